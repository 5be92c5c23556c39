// Force-included (-include) into every C file of the itb QEMU image: the board hook mp_init() calls.
#ifndef ITB_BOARD_H
#define ITB_BOARD_H
void itb_board_init(void);
#define MICROPY_PORT_INIT_FUNC itb_board_init()
#endif
