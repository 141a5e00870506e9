// The binding contract, shared by every binding file:
// - arguments after the data arrays are keyword-only (py::kw_only), named as in Python;
// - the float32/float64 choice is made once, by with_float_type, from the data's dtype;
// - the bindings check only what memory safety needs (dtype, contiguity, shape); parameter
//   ranges are checked once, in Python (vecclust/_utils/validation.py), and the core asserts
//   its invariants;
// - a function returns one numpy array or a dict of named results (never tuples or lists),
//   and every vector goes to numpy through to_numpy; outputs of known size are allocated
//   before the GIL is released;
// - core code runs with the GIL released (without_gil), with a Control that polls Ctrl-C.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "vecclust/base/common.hpp"

namespace vecclust_bindings {

namespace py = pybind11;
using vecclust::index_t;

// The hooks the core calls (on the calling thread, GIL released): Ctrl-C, and progress
// messages printed to sys.stdout when verbose.
inline vecclust::Control make_control(int n_threads, bool verbose = false) {
    std::function<void(const std::string&)> progress;
    if (verbose)
        progress = [](const std::string& message) {
            py::gil_scoped_acquire gil;
            py::print(message, py::arg("flush") = true);
        };
    return vecclust::Control(
        n_threads,
        [] {
            py::gil_scoped_acquire gil;
            if (PyErr_CheckSignals() != 0) throw vecclust::Interrupted();
        },
        std::move(progress));
}

// Runs `work` without the GIL; an interruption becomes the pending KeyboardInterrupt.
template <class Work>
auto without_gil(Work&& work) {
    bool interrupted = false;
    decltype(work()) result{};
    {
        py::gil_scoped_release release;
        try {
            result = work();
        } catch (const vecclust::Interrupted&) {
            interrupted = true;
        }
    }
    if (interrupted) throw py::error_already_set();
    return result;
}

enum class Dtype { f32, f64 };

// Compares dtypes by equivalence, not identity: unpickled and memory-mapped arrays carry
// equal but distinct dtype objects.
inline Dtype float_dtype(const py::array& a, const char* name) {
    if (py::isinstance<py::array_t<float>>(a)) return Dtype::f32;
    if (py::isinstance<py::array_t<double>>(a)) return Dtype::f64;
    throw py::type_error(std::string(name) + " must be a float32 or float64 array, got dtype " +
                         std::string(py::str(a.dtype())));
}

inline void require_c_contiguous(const py::array& a, const char* name, int ndim) {
    if (a.ndim() != ndim)
        throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) + "-dimensional, got " +
                              std::to_string(a.ndim()) + " dimensions");
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + " must be C-contiguous (use numpy.ascontiguousarray)");
}

// The one float-type dispatch: calls body(T{}) with T = float or double after x's dtype.
template <class Body>
decltype(auto) with_float_type(const py::array& x, const char* name, Body&& body) {
    if (float_dtype(x, name) == Dtype::f32) return body(float{});
    return body(double{});
}

// The one conversion to numpy: moves the vector into the array's buffer (no copy). The shape
// defaults to one dimension.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& values, std::vector<py::ssize_t> shape = {}) {
    if (shape.empty()) shape = {static_cast<py::ssize_t>(values.size())};
    auto* owner = new std::vector<T>(std::move(values));
    py::capsule release(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(shape, owner->data(), release);
}

template <class T>
const T* data_of(const py::array& a) {
    return static_cast<const T*>(a.data());
}

// Optional per-sample weights of the same dtype as the data, or null.
template <class T>
const T* weights_of(const py::object& weights, index_t n) {
    if (weights.is_none()) return nullptr;
    auto array = weights.cast<py::array>();
    require_c_contiguous(array, "sample_weight", 1);
    if (!py::isinstance<py::array_t<T>>(array)) throw py::type_error("sample_weight must have the dtype of the data");
    if (array.shape(0) != n) throw py::value_error("sample_weight must have one entry per sample");
    return data_of<T>(array);
}

inline py::array_t<index_t> index_array(const std::vector<index_t>& values) {
    return py::array_t<index_t>(static_cast<py::ssize_t>(values.size()), values.data());
}

template <class T>
py::array_t<T> new_matrix(index_t rows, index_t cols) {
    return py::array_t<T>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
}

}  // namespace vecclust_bindings
