# Frozen into the itb QEMU MPS2-AN385 image; runs at every boot and soft reset, before main.py.
# Mounts the board's flash (a host file reached through semihosting, named by the semihosting command line
# "flash=<path>") as a littlefs2 file system at "/", formatting it when it holds none (a blank image).
# Without a flash image the board boots to the REPL with no file system.
import os
import sys
import vfs

import itbboard

BLOCK = 4096


class Flash:
    # A block device (extended interface: offsets within a block, erase by ioctl) on the host file.
    def __init__(self, path):
        self.h = itbboard.open(path, 3)  # "r+b": the image must exist (the host makes it, blank 0xff)
        self.n = itbboard.size(self.h) // BLOCK

    def readblocks(self, block, buf, off=0):
        itbboard.pread(self.h, block * BLOCK + off, buf)

    def writeblocks(self, block, buf, off=None):
        if off is None:  # the simple interface: a whole-block write erases first
            itbboard.erase(self.h, block * BLOCK, len(buf))
            off = 0
        itbboard.pwrite(self.h, block * BLOCK + off, buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.n
        if op == 5:  # block size
            return BLOCK
        if op == 6:  # erase a block to 0xff, as NOR flash does
            itbboard.erase(self.h, arg * BLOCK, BLOCK)
            return 0
        return None


def _flash_path():
    for part in itbboard.cmdline().split():
        if part.startswith("flash="):
            return part[6:]
    return None


def _mount():
    path = _flash_path()
    if path is None:
        print("itb board: no flash= on the semihosting command line; no file system")
        return
    bdev = Flash(path)
    try:
        vfs.mount(vfs.VfsLfs2(bdev, progsize=64, readsize=64, lookahead=64), "/")
    except OSError:
        print("itb board: formatting the flash (" + str(bdev.n) + " blocks of " + str(BLOCK) + " B)")
        vfs.VfsLfs2.mkfs(bdev, progsize=64, readsize=64, lookahead=64)
        vfs.mount(vfs.VfsLfs2(bdev, progsize=64, readsize=64, lookahead=64), "/")
    os.chdir("/")
    sys.path.append("/lib")  # where mip installs packages, as on rp2 and esp32


_mount()
del _mount, _flash_path, Flash
