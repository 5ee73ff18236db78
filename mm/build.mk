obj-y += $(patsubst %.c,%.o,$(wildcard mm/*.c))
