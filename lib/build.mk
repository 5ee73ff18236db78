obj-y += lib/printf.o lib/string.o lib/ktest.o lib/cmdline.o
