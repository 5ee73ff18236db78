obj-y += kernel/main.o kernel/panic.o kernel/harts.o kernel/bench.o
obj-$(CONFIG_KTEST) += kernel/ktests.o tests/kernel/test_boot.o tests/common/test_lib.o
