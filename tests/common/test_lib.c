// SPDX-License-Identifier: MIT
/* lib/ tests that run on the host and inside the kernel alike. */
#include <kernel/cmdline.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <string.h>

static char buf[128];

#define FMT(...) (ksnprintf(buf, sizeof(buf), __VA_ARGS__), buf)

static void printf_integers(struct ktest *t)
{
	KT_EXPECT_STREQ(t, FMT("%d", 0), "0");
	KT_EXPECT_STREQ(t, FMT("%d %i", -42, 17), "-42 17");
	KT_EXPECT_STREQ(t, FMT("%u", 4294967295u), "4294967295");
	KT_EXPECT_STREQ(t, FMT("%lld", -9223372036854775807LL - 1), "-9223372036854775808");
	KT_EXPECT_STREQ(t, FMT("%llu", 18446744073709551615ULL), "18446744073709551615");
	KT_EXPECT_STREQ(t, FMT("%zu %ld", (size_t)123, -5L), "123 -5");
	KT_EXPECT_STREQ(t, FMT("%hhd %hu %hhx", (signed char)-56, (unsigned short)65535, (unsigned char)0xab), "-56 65535 ab");
	KT_EXPECT_STREQ(t, FMT("%o %#o", 8, 8), "10 010");
}

static void printf_hex_and_pointers(struct ktest *t)
{
	KT_EXPECT_STREQ(t, FMT("%x %X", 0xbeefu, 0xbeefu), "beef BEEF");
	KT_EXPECT_STREQ(t, FMT("%#x %#x", 0x1fu, 0u), "0x1f 0");
	KT_EXPECT_STREQ(t, FMT("%016llx", 0x80200000ULL), "0000000080200000");
	KT_EXPECT_STREQ(t, FMT("%#018llx", 0x80000000ULL), "0x0000000080000000");
	KT_EXPECT_STREQ(t, FMT("%p", (void *)0x1000), "0x1000");
}

static void printf_width_precision_flags(struct ktest *t)
{
	KT_EXPECT_STREQ(t, FMT("[%5d]", 42), "[   42]");
	KT_EXPECT_STREQ(t, FMT("[%-5d]", 42), "[42   ]");
	KT_EXPECT_STREQ(t, FMT("[%05d]", -42), "[-0042]");
	KT_EXPECT_STREQ(t, FMT("[%+d % d]", 5, 5), "[+5  5]");
	KT_EXPECT_STREQ(t, FMT("[%.3d]", 7), "[007]");
	KT_EXPECT_STREQ(t, FMT("[%.0d]", 0), "[]");
	KT_EXPECT_STREQ(t, FMT("[%*d]", 4, 1), "[   1]");
	KT_EXPECT_STREQ(t, FMT("[%-*d]", 3, 1), "[1  ]");
	KT_EXPECT_STREQ(t, FMT("[%8s|%-4s]", "abc", "de"), "[     abc|de  ]");
	KT_EXPECT_STREQ(t, FMT("[%.2s]", "abcdef"), "[ab]");
	KT_EXPECT_STREQ(t, FMT("%c%c%%", 'o', 'k'), "ok%");
	const char *volatile null_str = NULL; /* hidden from -Wformat */
	KT_EXPECT_STREQ(t, FMT("%s", null_str), "(null)");
}

static void printf_truncates_and_counts(struct ktest *t)
{
	char small[6];
	int n = ksnprintf(small, sizeof(small), "%s", "0123456789");

	KT_EXPECT_EQ(t, n, 10);
	KT_EXPECT_STREQ(t, small, "01234");
	KT_EXPECT_EQ(t, ksnprintf(NULL, 0, "%d", 12345), 5);
	memset(small, 'x', sizeof(small));
	ksnprintf(small, 1, "abc");
	KT_EXPECT_EQ(t, small[0], '\0');
	KT_EXPECT_EQ(t, small[1], 'x');
}

static const struct ktest_case printf_cases[] = {
	KTEST_CASE(printf_integers),
	KTEST_CASE(printf_hex_and_pointers),
	KTEST_CASE(printf_width_precision_flags),
	KTEST_CASE(printf_truncates_and_counts),
	{ 0 },
};

const struct ktest_suite printf_suite = { .name = "printf", .cases = printf_cases };

static void cmdline_finds_words(struct ktest *t)
{
	const char *line = " console=ttyS0  test.ram=128M test.resv=a,b  test.ramx=1 ";

	KT_EXPECT(t, cmdline_find(line, "test.ram", buf, sizeof(buf)));
	KT_EXPECT_STREQ(t, buf, "128M");
	KT_EXPECT(t, cmdline_find(line, "test.resv", buf, sizeof(buf)));
	KT_EXPECT_STREQ(t, buf, "a,b");
	KT_EXPECT(t, cmdline_find(line, "console", buf, sizeof(buf)));
	KT_EXPECT_STREQ(t, buf, "ttyS0");
	KT_EXPECT(t, !cmdline_find(line, "test", buf, sizeof(buf)));
	KT_EXPECT(t, !cmdline_find(line, "ram", buf, sizeof(buf)));
	KT_EXPECT(t, !cmdline_find("", "test.ram", buf, sizeof(buf)));
	/* a value that does not fit is refused, not cut */
	KT_EXPECT(t, !cmdline_find(line, "console", buf, 5));
}

static void cmdline_has_words(struct ktest *t)
{
	const char *line = "bench  test.ram=1G quiet=0";

	KT_EXPECT(t, cmdline_has(line, "bench"));
	KT_EXPECT(t, cmdline_has(line, "test.ram"));
	KT_EXPECT(t, cmdline_has(line, "quiet"));
	KT_EXPECT(t, !cmdline_has(line, "test"));
	KT_EXPECT(t, !cmdline_has(line, "ben"));
	KT_EXPECT(t, !cmdline_has("", "bench"));
	KT_EXPECT(t, !cmdline_has("   ", "bench"));
}

static void cmdline_parses_sizes(struct ktest *t)
{
	uint64_t v = 0;

	KT_EXPECT(t, parse_size("128M", &v));
	KT_EXPECT_EQ(t, v, 128ULL << 20);
	KT_EXPECT(t, parse_size("5G", &v));
	KT_EXPECT_EQ(t, v, 5ULL << 30);
	KT_EXPECT(t, parse_size("0x80000000", &v));
	KT_EXPECT_EQ(t, v, 0x80000000ULL);
	KT_EXPECT(t, parse_size("4k", &v));
	KT_EXPECT_EQ(t, v, 4096);
	KT_EXPECT(t, parse_size("18446744073709551615", &v));
	KT_EXPECT_EQ(t, v, ~0ULL);
	KT_EXPECT(t, !parse_size("18446744073709551616", &v));
	KT_EXPECT(t, !parse_size("17179869184G", &v));
	KT_EXPECT(t, !parse_size("", &v));
	KT_EXPECT(t, !parse_size("0x", &v));
	KT_EXPECT(t, !parse_size("12Q", &v));
	KT_EXPECT(t, !parse_size("M", &v));
}

static const struct ktest_case cmdline_cases[] = {
	KTEST_CASE(cmdline_finds_words),
	KTEST_CASE(cmdline_has_words),
	KTEST_CASE(cmdline_parses_sizes),
	{ 0 },
};

const struct ktest_suite cmdline_suite = { .name = "cmdline", .cases = cmdline_cases };

/* Work shared by few harts runs whole; by many, it may stop at a deadline in the future. */
static void deadline_only_for_many_harts(struct ktest *t)
{
	uint64_t d;

	KT_EXPECT_EQ(t, ktest_deadline(1, 10), KTEST_NO_DEADLINE);
	KT_EXPECT_EQ(t, ktest_deadline(KTEST_DEADLINE_HARTS, 10), KTEST_NO_DEADLINE);
	KT_EXPECT(t, !ktest_past(KTEST_NO_DEADLINE));
	d = ktest_deadline(KTEST_DEADLINE_HARTS + 1, 10);
	KT_EXPECT(t, d != KTEST_NO_DEADLINE && !ktest_past(d));
	KT_EXPECT(t, ktest_past(ktest_deadline(KTEST_DEADLINE_HARTS + 1, 0) - 1));
}

static const struct ktest_case ktest_cases[] = {
	KTEST_CASE(deadline_only_for_many_harts),
	{ 0 },
};

const struct ktest_suite ktest_suite = { .name = "ktest", .cases = ktest_cases };
