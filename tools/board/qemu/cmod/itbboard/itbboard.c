// itbboard: board support for the itb rig on QEMU's MPS2-AN385 (Cortex-M3), through ARM semihosting.
//
// QEMU's MPS2-AN385 model has no flash controller MicroPython can drive, no RTC and no entropy source, so
// this module reaches the emulator host instead (qemu-system-arm -semihosting):
// - open/pread/pwrite/size on a host file: the flash image behind the board's block device (_boot.py makes
//   a littlefs2 file system on it), written through at once, so it survives killing the emulator;
// - os.urandom(n) from the host's /dev/urandom (itb_os.c), time.time() from the host clock (itb_time.c);
// - cmdline(): the semihosting command line (qemu -semihosting-config arg=...), which names the flash image;
// - diag(text): a line on the semihosting console (QEMU's stdout), for heap readings; never the UART.
// itb_board_init() runs frozen _boot.py, then main.py from the file system, as the rp2 and stm32 ports do.

#include <string.h>

#include "py/runtime.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "shared/runtime/pyexec.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_SEEK 0x0A
#define SYS_FLEN 0x0C
#define SYS_TIME 0x11
#define SYS_GET_CMDLINE 0x15

static int semi(int op, void *arg) {
    register int r0 __asm__ ("r0") = op;
    register void *r1 __asm__ ("r1") = arg;
    __asm__ volatile ("bkpt 0xAB" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}

int itb_semi_open(const char *path, int mode) {
    uint32_t a[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return semi(SYS_OPEN, a);
}

int itb_semi_close(int h) {
    uint32_t a[1] = {(uint32_t)h};
    return semi(SYS_CLOSE, a);
}

// Bytes NOT transferred (0: all), as semihosting reports them; -1 when the seek fails.
int itb_semi_pread(int h, uint32_t pos, void *buf, size_t len) {
    uint32_t s[2] = {(uint32_t)h, pos};
    if (semi(SYS_SEEK, s) != 0) {
        return -1;
    }
    uint32_t a[3] = {(uint32_t)h, (uint32_t)buf, (uint32_t)len};
    return semi(SYS_READ, a);
}

static int semi_pwrite(int h, uint32_t pos, const void *buf, size_t len) {
    uint32_t s[2] = {(uint32_t)h, pos};
    if (semi(SYS_SEEK, s) != 0) {
        return -1;
    }
    uint32_t a[3] = {(uint32_t)h, (uint32_t)buf, (uint32_t)len};
    return semi(SYS_WRITE, a);
}

uint32_t itb_semi_time(void) {
    return (uint32_t)semi(SYS_TIME, NULL);
}

// time.time_ns() and littlefs2 file times: the host clock, whole seconds.
uint64_t mp_hal_time_ns(void) {
    return (uint64_t)itb_semi_time() * 1000000000ULL;
}

static mp_obj_t itbboard_open(mp_obj_t path_in, mp_obj_t mode_in) {
    int h = itb_semi_open(mp_obj_str_get_str(path_in), mp_obj_get_int(mode_in));
    if (h < 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    return MP_OBJ_NEW_SMALL_INT(h);
}
static MP_DEFINE_CONST_FUN_OBJ_2(itbboard_open_obj, itbboard_open);

static mp_obj_t itbboard_close(mp_obj_t h_in) {
    itb_semi_close(mp_obj_get_int(h_in));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(itbboard_close_obj, itbboard_close);

static mp_obj_t itbboard_size(mp_obj_t h_in) {
    uint32_t a[1] = {(uint32_t)mp_obj_get_int(h_in)};
    int n = semi(SYS_FLEN, a);
    if (n < 0) {
        mp_raise_OSError(MP_EIO);
    }
    return MP_OBJ_NEW_SMALL_INT(n);
}
static MP_DEFINE_CONST_FUN_OBJ_1(itbboard_size_obj, itbboard_size);

// pread(handle, pos, buf): fill buf from the host file at pos; OSError(EIO) on a short read.
static mp_obj_t itbboard_pread(mp_obj_t h_in, mp_obj_t pos_in, mp_obj_t buf_in) {
    mp_buffer_info_t b;
    mp_get_buffer_raise(buf_in, &b, MP_BUFFER_WRITE);
    if (itb_semi_pread(mp_obj_get_int(h_in), mp_obj_get_int(pos_in), b.buf, b.len) != 0) {
        mp_raise_OSError(MP_EIO);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(itbboard_pread_obj, itbboard_pread);

// pwrite(handle, pos, buf): write buf to the host file at pos; OSError(EIO) on a short write.
static mp_obj_t itbboard_pwrite(mp_obj_t h_in, mp_obj_t pos_in, mp_obj_t buf_in) {
    mp_buffer_info_t b;
    mp_get_buffer_raise(buf_in, &b, MP_BUFFER_READ);
    if (semi_pwrite(mp_obj_get_int(h_in), mp_obj_get_int(pos_in), b.buf, b.len) != 0) {
        mp_raise_OSError(MP_EIO);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(itbboard_pwrite_obj, itbboard_pwrite);

// erase(handle, pos, len): set len bytes at pos to 0xff, as a NOR flash erase does. Allocates nothing.
static mp_obj_t itbboard_erase(mp_obj_t h_in, mp_obj_t pos_in, mp_obj_t len_in) {
    static const uint8_t ff[256] = {
        [0 ... 255] = 0xff
    };
    int h = mp_obj_get_int(h_in);
    uint32_t pos = mp_obj_get_int(pos_in);
    uint32_t left = mp_obj_get_int(len_in);
    while (left) {
        uint32_t n = left < sizeof(ff) ? left : sizeof(ff);
        if (semi_pwrite(h, pos, ff, n) != 0) {
            mp_raise_OSError(MP_EIO);
        }
        pos += n;
        left -= n;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(itbboard_erase_obj, itbboard_erase);

static mp_obj_t itbboard_cmdline(void) {
    char buf[256];
    uint32_t a[2] = {(uint32_t)buf, sizeof(buf)};
    if (semi(SYS_GET_CMDLINE, a) != 0) {
        return mp_obj_new_str("", 0);
    }
    size_t n = 0;
    while (n < a[1] && n < sizeof(buf) && buf[n]) {
        n++;
    }
    return mp_obj_new_str(buf, n);
}
static MP_DEFINE_CONST_FUN_OBJ_0(itbboard_cmdline_obj, itbboard_cmdline);

// diag(text): text and a newline on the semihosting console. Allocates nothing (the heap may be full).
static mp_obj_t itbboard_diag(mp_obj_t text_in) {
    size_t n;
    const char *s = mp_obj_str_get_data(text_in, &n);
    char buf[128];
    if (n > sizeof(buf) - 2) {
        n = sizeof(buf) - 2;
    }
    memcpy(buf, s, n);
    buf[n] = '\n';
    buf[n + 1] = 0;
    semi(SYS_WRITE0, buf);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(itbboard_diag_obj, itbboard_diag);

static const mp_rom_map_elem_t itbboard_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_itbboard) },
    { MP_ROM_QSTR(MP_QSTR_open), MP_ROM_PTR(&itbboard_open_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&itbboard_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_size), MP_ROM_PTR(&itbboard_size_obj) },
    { MP_ROM_QSTR(MP_QSTR_pread), MP_ROM_PTR(&itbboard_pread_obj) },
    { MP_ROM_QSTR(MP_QSTR_pwrite), MP_ROM_PTR(&itbboard_pwrite_obj) },
    { MP_ROM_QSTR(MP_QSTR_erase), MP_ROM_PTR(&itbboard_erase_obj) },
    { MP_ROM_QSTR(MP_QSTR_cmdline), MP_ROM_PTR(&itbboard_cmdline_obj) },
    { MP_ROM_QSTR(MP_QSTR_diag), MP_ROM_PTR(&itbboard_diag_obj) },
};
static MP_DEFINE_CONST_DICT(itbboard_globals, itbboard_globals_table);

const mp_obj_module_t itbboard_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&itbboard_globals,
};

MP_REGISTER_MODULE(MP_QSTR_itbboard, itbboard_module);

// MICROPY_PORT_INIT_FUNC, at the end of mp_init(): boot like a board (a file system, then main.py).
// "nomain=1" on the semihosting command line skips main.py (maintenance: the REPL with the file system).
void itb_board_init(void) {
    pyexec_frozen_module("_boot.py", false);
    char buf[256];
    uint32_t a[2] = {(uint32_t)buf, sizeof(buf) - 1};
    if (semi(SYS_GET_CMDLINE, a) == 0) {
        buf[a[1] < sizeof(buf) - 1 ? a[1] : sizeof(buf) - 1] = 0;
        if (strstr(buf, "nomain=1") != NULL) {
            return;
        }
    }
    pyexec_file_if_exists("main.py");
}
