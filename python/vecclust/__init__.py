from vecclust import _core
