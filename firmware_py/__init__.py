# itb core: dosing arithmetic, schedules, the drug library, the program codec, the wire protocol and
# the rig state machine. Runs unchanged on CPython and MicroPython: import only what MicroPython's
# standard library has, keep every quantity an int in the base unit its name states (ng, nL, s).
