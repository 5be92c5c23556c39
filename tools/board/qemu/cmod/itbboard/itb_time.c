// Included into extmod/modtime.c (MICROPY_PY_TIME_INCLUDEFILE): time.time() from the emulator host's clock
// (semihosting SYS_TIME), standing in for a board's RTC.

uint32_t itb_semi_time(void);

static mp_obj_t mp_time_time_get(void) {
    return mp_obj_new_int_from_uint(itb_semi_time());
}
