// An uninitialised buffer for large arrays such as an n x n distance matrix. On Linux big
// buffers are mapped with MAP_POPULATE: the kernel then maps all pages in one call, which is
// several times cheaper than taking one page fault per 4 KiB page while the matrix is filled.
#pragma once

#include <cstddef>  // size_t
#include <memory>   // std::unique_ptr
#include <new>      // std::bad_alloc

#if defined(__linux__)
#include <sys/mman.h>  // mmap, munmap
#endif

namespace vecclust {

template <class T>
class LargeBuffer {
  public:
    explicit LargeBuffer(size_t count) : bytes_(count * sizeof(T)) {
#if defined(__linux__)
        if (bytes_ >= (size_t(1) << 24)) {
            void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
            if (p == MAP_FAILED) throw std::bad_alloc();
            data_ = static_cast<T*>(p);
            mapped_ = true;
            return;
        }
#endif
        owned_.reset(new T[count]);
        data_ = owned_.get();
    }
    ~LargeBuffer() {
#if defined(__linux__)
        if (mapped_) munmap(data_, bytes_);
#endif
    }
    LargeBuffer(const LargeBuffer&) = delete;
    LargeBuffer& operator=(const LargeBuffer&) = delete;

    T* data() { return data_; }

  private:
    size_t bytes_;
    T* data_ = nullptr;
    bool mapped_ = false;
    std::unique_ptr<T[]> owned_;
};

}  // namespace vecclust
