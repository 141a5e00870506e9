// The compiled module `vecclust._core`. Each area binds itself from its own file.
#include <pybind11/pybind11.h>

namespace vecclust_bindings {
void bind_kmedoids(pybind11::module_& m);
void bind_clara(pybind11::module_& m);
void bind_kmeans(pybind11::module_& m);
void bind_ppp(pybind11::module_& m);
void bind_index(pybind11::module_& m);
void bind_gmm(pybind11::module_& m);
}

PYBIND11_MODULE(_core, m) {
    m.doc() = "vecclust's compiled core (private; use the vecclust package).";
    m.attr("__version__") = VECCLUST_VERSION;
    vecclust_bindings::bind_kmedoids(m);
    vecclust_bindings::bind_clara(m);
    vecclust_bindings::bind_kmeans(m);
    vecclust_bindings::bind_ppp(m);
    vecclust_bindings::bind_index(m);
    vecclust_bindings::bind_gmm(m);
}
