// Binary serialisation primitives for the multi-tenant index: a streaming checksum, a writer and
// a bounds-checked reader over a file or a memory buffer, and a crash-safe file save (temporary
// file in the same directory, fsync, rename, fsync of the directory).
//
// Every read is checked against the bytes that remain, so a truncated or corrupt input raises
// CorruptIndex (never reads past the end, and never allocates more than the input could hold).
#pragma once

#include <algorithm>  // std::min
#include <atomic>     // std::atomic
#include <chrono>     // std::chrono::steady_clock
#include <cerrno>     // errno
#include <cstdint>    // std::uint64_t
#include <cstdio>     // std::FILE
#include <cstring>    // std::memcpy, std::memset, std::strerror
#include <stdexcept>  // std::invalid_argument, std::runtime_error
#include <string>     // std::string
#include <vector>     // std::vector

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>     // open
#include <sys/stat.h>  // lstat, stat, fchmod
#include <unistd.h>    // fsync, close, getpid, readlink
#endif

#include "vecclust/base/random.hpp"  // splitmix64

namespace vecclust {

// A file or buffer that is not a valid index (truncated, corrupt, or another format).
struct CorruptIndex : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// The operating system refused a file operation.
struct IoError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An order-sensitive 64-bit checksum over a byte stream, fed in pieces of any size. Each 8-byte
// word goes through an invertible step (xor, rotate, multiply by an odd constant), so changing
// any single word always changes the result; other corruptions collide with chance 2^-64.
class Checksum {
  public:
    void update(const void* data, size_t n) {
        if (n == 0) return;  // an empty array's data may be null, which memcpy must not see
        const auto* bytes = static_cast<const unsigned char*>(data);
        length_ += n;
        if (pending_size_ > 0) {  // complete the word left over from the last call
            const size_t take = std::min(n, 8 - pending_size_);
            std::memcpy(pending_ + pending_size_, bytes, take);
            pending_size_ += take;
            bytes += take;
            n -= take;
            if (pending_size_ < 8) return;
            mix_pending();
        }
        for (; n >= 8; n -= 8, bytes += 8) {
            std::uint64_t word;
            std::memcpy(&word, bytes, 8);
            mix(word);
        }
        std::memcpy(pending_, bytes, n);  // n < 8, and nothing is pending here
        pending_size_ = n;
    }

    std::uint64_t digest() const {
        Checksum copy = *this;
        if (copy.pending_size_ > 0) {
            std::memset(copy.pending_ + copy.pending_size_, 0, 8 - copy.pending_size_);
            copy.mix_pending();
        }
        copy.mix(copy.length_);
        std::uint64_t h = copy.state_;  // final avalanche (splitmix64's finaliser)
        h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
        h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
        return h ^ (h >> 31);
    }

  private:
    void mix(std::uint64_t word) {
        const std::uint64_t x = state_ ^ word;
        state_ = ((x << 29) | (x >> 35)) * 0x9e3779b97f4a7c15ULL;
    }
    void mix_pending() {
        std::uint64_t word;
        std::memcpy(&word, pending_, 8);
        mix(word);
        pending_size_ = 0;
    }

    std::uint64_t state_ = 0x243f6a8885a308d3ULL;
    std::uint64_t length_ = 0;
    unsigned char pending_[8] = {};
    size_t pending_size_ = 0;
};

// --------------------------------------------------------------------------------------------
// Writing
// --------------------------------------------------------------------------------------------

class ByteSink {
  public:
    virtual ~ByteSink() = default;
    virtual void write(const void* data, size_t n) = 0;
};

class StringSink : public ByteSink {
  public:
    void write(const void* data, size_t n) override { out.append(static_cast<const char*>(data), n); }
    std::string out;
};

class FileSink : public ByteSink {
  public:
    FileSink(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
    void write(const void* data, size_t n) override {
        if (n > 0 && std::fwrite(data, 1, n, file_) != n) throw IoError("cannot write " + path_ + ": " + std::strerror(errno));
    }

  private:
    std::FILE* file_;
    std::string path_;
};

// Writes plain values and arrays (little-endian hosts only, checked at load by the magic) and
// appends the checksum of everything written when finished.
class Writer {
  public:
    explicit Writer(ByteSink& sink) : sink_(sink) {}

    template <class T>
    void value(const T& v) {
        bytes(&v, sizeof(T));
    }
    template <class T>
    void array(const T* data, size_t n) {  // the count, then the elements
        value<std::uint64_t>(n);
        bytes(data, n * sizeof(T));
    }
    template <class T>
    void array(const std::vector<T>& v) {
        array(v.data(), v.size());
    }
    void bytes(const void* data, size_t n) {
        checksum_.update(data, n);
        sink_.write(data, n);
    }
    void finish() {
        const std::uint64_t digest = checksum_.digest();
        sink_.write(&digest, sizeof digest);
    }

  private:
    ByteSink& sink_;
    Checksum checksum_;
};

// --------------------------------------------------------------------------------------------
// Reading
// --------------------------------------------------------------------------------------------

class ByteSource {
  public:
    virtual ~ByteSource() = default;
    virtual void read(void* out, size_t n) = 0;  // n never exceeds the bytes remaining
};

class MemorySource : public ByteSource {
  public:
    explicit MemorySource(const char* data) : data_(data) {}
    void read(void* out, size_t n) override {
        if (n == 0) return;  // `out` may be the null data of an empty array
        std::memcpy(out, data_, n);
        data_ += n;
    }

  private:
    const char* data_;
};

class FileSource : public ByteSource {
  public:
    FileSource(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
    void read(void* out, size_t n) override {
        if (n > 0 && std::fread(out, 1, n, file_) != n) {
            if (std::ferror(file_)) throw IoError("cannot read " + path_ + ": " + std::strerror(errno));
            throw CorruptIndex("the index file " + path_ + " is truncated");
        }
    }

  private:
    std::FILE* file_;
    std::string path_;
};

class Reader {
  public:
    Reader(ByteSource& source, std::uint64_t size) : source_(source), remaining_(size) {}

    template <class T>
    T value() {
        T v;
        bytes(&v, sizeof(T));
        return v;
    }

    // An array written by Writer::array, with at most `max_count` elements.
    template <class T>
    std::vector<T> array(std::uint64_t max_count = ~std::uint64_t(0)) {
        const std::uint64_t n = count(sizeof(T), max_count);
        std::vector<T> v(static_cast<size_t>(n));
        bytes(v.data(), static_cast<size_t>(n) * sizeof(T));
        return v;
    }
    template <class T>
    void array_into(T* out, std::uint64_t expected) {
        const std::uint64_t n = value<std::uint64_t>();
        if (n != expected) throw CorruptIndex("corrupt index: an array has " + std::to_string(n) + " elements, expected " + std::to_string(expected));
        bytes(out, static_cast<size_t>(n) * sizeof(T));
    }

    // A count of items that will take at least `min_item_bytes` each, refused when the input
    // cannot hold that many (so a corrupt count never causes a huge allocation).
    std::uint64_t count(std::uint64_t min_item_bytes, std::uint64_t max_count = ~std::uint64_t(0)) {
        const auto n = value<std::uint64_t>();
        if (n > max_count || (min_item_bytes > 0 && n > remaining_ / min_item_bytes)) throw_truncated_or_corrupt();
        return n;
    }

    void bytes(void* out, size_t n) {
        if (n > remaining_) throw_truncated_or_corrupt();
        source_.read(out, n);
        remaining_ -= n;
        checksum_.update(out, n);
    }

    std::uint64_t remaining() const { return remaining_; }

    // The stored checksum must match, and nothing may follow it.
    void finish() {
        if (remaining_ < sizeof(std::uint64_t)) throw CorruptIndex("the index data is truncated");
        const std::uint64_t expected = checksum_.digest();
        std::uint64_t stored;
        source_.read(&stored, sizeof stored);
        remaining_ -= sizeof stored;
        if (remaining_ != 0) throw CorruptIndex("the index data has " + std::to_string(remaining_) + " unexpected trailing bytes");
        if (stored != expected) throw CorruptIndex("the index data is corrupt (checksum mismatch)");
    }

  private:
    [[noreturn]] void throw_truncated_or_corrupt() {
        throw CorruptIndex("the index data is truncated or corrupt (a size field exceeds the data)");
    }

    ByteSource& source_;
    std::uint64_t remaining_;
    Checksum checksum_;
};

// --------------------------------------------------------------------------------------------
// Files
// --------------------------------------------------------------------------------------------

// A path with a NUL byte would silently name a shorter one (the system calls stop at the NUL),
// so it is refused as open() refuses it.
inline void check_path(const std::string& path) {
    if (path.find('\0') != std::string::npos) throw std::invalid_argument("embedded null byte in a path");
}

#if defined(__unix__) || defined(__APPLE__)
// The file that opening `path` for writing would write, as open() finds it: symbolic links are
// followed (a relative target from the link's directory); a dangling one names the file that
// open() would create.
inline std::string resolve_links(const std::string& path) {
    std::string current = path;
    for (int depth = 0; depth < 40; ++depth) {  // the system's usual limit on nested links
        struct stat st;
        if (lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return current;
        std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
        const ssize_t n = readlink(current.c_str(), target.data(), target.size());
        if (n < 0) throw IoError("cannot read the symbolic link " + current + ": " + std::strerror(errno));
        if (static_cast<size_t>(n) >= target.size()) throw IoError("the symbolic link " + current + " changed while it was read");
        target.resize(static_cast<size_t>(n));
        const auto slash = current.find_last_of('/');
        current = target.empty() || target[0] == '/' || slash == std::string::npos ? target : current.substr(0, slash + 1) + target;
    }
    throw IoError("cannot save to " + path + ": " + std::strerror(ELOOP));
}

// Creates a new, empty temporary file next to `target` (its name starts with target + ".tmp-")
// with the mode open() would give the target: the existing file's, else 0666 less the umask
// (which the system applies to the requested 0666). Returns its descriptor and sets `tmp`.
inline int create_temporary(const std::string& target, std::string& tmp) {
    static const char kLetters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static std::atomic<std::uint64_t> counter{0};
    std::uint64_t state = (static_cast<std::uint64_t>(getpid()) << 32) ^ counter.fetch_add(1) ^
                          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int attempt = 0; attempt < 100; ++attempt) {
        std::uint64_t bits = splitmix64(state);
        tmp = target + ".tmp-";
        for (int i = 0; i < 6; ++i, bits /= 62) tmp += kLetters[bits % 62];
        const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0) break;
        struct stat st;
        if (stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && fchmod(fd, st.st_mode & 07777) != 0) {
            const int error = errno;
            close(fd);
            unlink(tmp.c_str());
            throw IoError("cannot set the mode of " + tmp + ": " + std::strerror(error));
        }
        return fd;
    }
    throw IoError("cannot create a temporary file next to " + target + ": " + std::strerror(errno));
}
#endif

// Writes `path` so that a crash at any moment leaves either the old file or the complete new
// one: the data goes to a temporary file in the same directory, which is flushed, fsynced and
// renamed over `path`; then the directory is fsynced so the rename itself is durable. As with
// open(), a symbolic link is followed (its target is replaced, the link stays) and the file keeps
// the mode of the one it replaces, or gets the umask's for a new file.
template <class WriteBody>
void save_file_atomically(const std::string& requested, WriteBody&& write_body) {
    check_path(requested);
#if defined(__unix__) || defined(__APPLE__)
    const std::string path = resolve_links(requested);
    std::string tmp;
    const int fd = create_temporary(path, tmp);
    std::FILE* file = fdopen(fd, "wb");
    if (!file) {
        const int error = errno;
        close(fd);
        unlink(tmp.c_str());
        throw IoError("cannot open " + tmp + ": " + std::strerror(error));
    }
    try {
        FileSink sink(file, path);
        write_body(sink);
        if (std::fflush(file) != 0 || fsync(fileno(file)) != 0) throw IoError("cannot write " + path + ": " + std::strerror(errno));
    } catch (...) {
        std::fclose(file);
        unlink(tmp.c_str());
        throw;
    }
    if (std::fclose(file) != 0) {
        const int error = errno;
        unlink(tmp.c_str());
        throw IoError("cannot write " + path + ": " + std::strerror(error));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int error = errno;
        unlink(tmp.c_str());
        throw IoError("cannot rename the temporary file to " + path + ": " + std::strerror(error));
    }
    const auto slash = path.find_last_of('/');
    const std::string directory = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int dir_fd = open(directory.c_str(), O_RDONLY);
    if (dir_fd >= 0) {
        fsync(dir_fd);  // best effort: some file systems refuse fsync on directories
        close(dir_fd);
    }
#else
    const std::string& path = requested;
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) throw IoError("cannot open " + path + ": " + std::strerror(errno));
    FileSink sink(file, path);
    write_body(sink);
    if (std::fclose(file) != 0) throw IoError("cannot write " + path);
#endif
}

// Calls read_body(source, size) on the file's bytes.
template <class ReadBody>
auto load_file(const std::string& path, ReadBody&& read_body) {
    check_path(path);
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) throw IoError("cannot open " + path + ": " + std::strerror(errno));
    struct Closer {
        std::FILE* f;
        ~Closer() { std::fclose(f); }
    } closer{file};
    if (std::fseek(file, 0, SEEK_END) != 0) throw IoError("cannot read " + path + ": " + std::strerror(errno));
    const long size = std::ftell(file);
    if (size < 0 || std::fseek(file, 0, SEEK_SET) != 0) throw IoError("cannot read " + path + ": " + std::strerror(errno));
    FileSource source(file, path);
    return read_body(source, static_cast<std::uint64_t>(size));
}

}  // namespace vecclust
