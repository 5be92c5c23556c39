# MicroPython plumbing for the test suite: node scripts that run the core under the MicroPython
# WebAssembly port, the MicroPython-side runner, and CPython helpers that drive them.
