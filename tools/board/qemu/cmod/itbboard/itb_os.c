// Included into extmod/modos.c (MICROPY_PY_OS_INCLUDEFILE): os.urandom(n) from the emulator host's
// /dev/urandom through semihosting. The board has no entropy source of its own.

#include "py/mperrno.h"

int itb_semi_open(const char *path, int mode);
int itb_semi_close(int h);
int itb_semi_pread(int h, uint32_t pos, void *buf, size_t len);

static mp_obj_t mp_os_urandom(mp_obj_t num) {
    mp_int_t n = mp_obj_get_int(num);
    if (n < 0) {
        mp_raise_ValueError(NULL);
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    int h = itb_semi_open("/dev/urandom", 1);
    if (h < 0) {
        mp_raise_OSError(MP_EIO);
    }
    // /dev/urandom is not seekable; read from the current position (SYS_READ only).
    uint32_t a[3] = {(uint32_t)h, (uint32_t)vstr.buf, (uint32_t)n};
    register int r0 __asm__ ("r0") = 0x06;
    register void *r1 __asm__ ("r1") = a;
    __asm__ volatile ("bkpt 0xAB" : "+r" (r0) : "r" (r1) : "memory");
    itb_semi_close(h);
    if (r0 != 0) {
        mp_raise_OSError(MP_EIO);
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_urandom_obj, mp_os_urandom);
