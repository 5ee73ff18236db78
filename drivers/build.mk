obj-y += drivers/console.o
obj-$(CONFIG_SERIAL_NS16550) += drivers/serial/ns16550.o
obj-$(CONFIG_SERIAL_PL011) += drivers/serial/pl011.o
obj-$(CONFIG_SERIAL_SIFIVE) += drivers/serial/sifive.o
