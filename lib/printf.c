// SPDX-License-Identifier: MIT
/*
 * A small vsnprintf: enough of C99 for kernel logs and test output, with no
 * floating point (the kernel is built with general registers only).
 */
#include <kernel/printk.h>
#include <string.h>

struct out {
	char *buf;
	size_t size;
	size_t len; /* what the full output would take */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_repeat(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

struct spec {
	bool left, zero, plus, space, alt;
	int width, prec; /* prec < 0: none */
	int base;
	bool upper;
};

static void put_str(struct out *o, const char *s, const struct spec *sp)
{
	size_t n = sp->prec >= 0 ? strnlen(s, (size_t)sp->prec) : strlen(s);
	int pad = sp->width - (int)n;

	if (!sp->left)
		put_repeat(o, ' ', pad);
	for (size_t i = 0; i < n; i++)
		put(o, s[i]);
	if (sp->left)
		put_repeat(o, ' ', pad);
}

static void put_num(struct out *o, unsigned long long v, bool neg, const struct spec *sp)
{
	const char *digits = sp->upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	char sign = neg ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
	const char *prefix = "";

	do {
		tmp[n++] = digits[v % (unsigned)sp->base];
		v /= (unsigned)sp->base;
	} while (v);
	if (sp->prec == 0 && n == 1 && tmp[0] == '0')
		n = 0; /* "%.0d" of zero prints nothing */
	if (sp->alt && sp->base == 16 && !(n == 1 && tmp[0] == '0') && n)
		prefix = sp->upper ? "0X" : "0x";
	if (sp->alt && sp->base == 8 && (n == 0 || tmp[n - 1] != '0'))
		prefix = "0";

	int zeros = sp->prec > n ? sp->prec - n : 0;
	int len = n + zeros + (int)strlen(prefix) + (sign ? 1 : 0);
	int pad = sp->width > len ? sp->width - len : 0;

	if (sp->zero && !sp->left && sp->prec < 0) {
		zeros += pad;
		pad = 0;
	}
	if (!sp->left)
		put_repeat(o, ' ', pad);
	if (sign)
		put(o, sign);
	for (const char *p = prefix; *p; p++)
		put(o, *p);
	put_repeat(o, '0', zeros);
	while (n)
		put(o, tmp[--n]);
	if (sp->left)
		put_repeat(o, ' ', pad);
}

static const char *parse_int(const char *f, int *v, va_list *ap)
{
	if (*f == '*') {
		*v = va_arg(*ap, int);
		return f + 1;
	}
	*v = 0;
	while (*f >= '0' && *f <= '9')
		*v = *v * 10 + (*f++ - '0');
	return f;
}

enum len_mod { L_INT, L_CHAR, L_SHORT, L_LONG, L_LLONG, L_SIZE };

static unsigned long long arg_unsigned(enum len_mod m, va_list *ap)
{
	switch (m) {
	case L_CHAR: return (unsigned char)va_arg(*ap, unsigned int);
	case L_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
	case L_LONG: return va_arg(*ap, unsigned long);
	case L_LLONG: return va_arg(*ap, unsigned long long);
	case L_SIZE: return va_arg(*ap, size_t);
	default: return va_arg(*ap, unsigned int);
	}
}

static long long arg_signed(enum len_mod m, va_list *ap)
{
	switch (m) {
	case L_CHAR: return (signed char)va_arg(*ap, int);
	case L_SHORT: return (short)va_arg(*ap, int);
	case L_LONG: return va_arg(*ap, long);
	case L_LLONG: return va_arg(*ap, long long);
	case L_SIZE: return va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, int);
	}
}

static const char *parse_spec(const char *f, struct spec *sp, enum len_mod *m, va_list *ap)
{
	*sp = (struct spec){ .prec = -1, .base = 10 };
	for (;; f++) {
		if (*f == '-') sp->left = true;
		else if (*f == '0') sp->zero = true;
		else if (*f == '+') sp->plus = true;
		else if (*f == ' ') sp->space = true;
		else if (*f == '#') sp->alt = true;
		else break;
	}
	f = parse_int(f, &sp->width, ap);
	if (sp->width < 0) {
		sp->left = true;
		sp->width = -sp->width;
	}
	if (*f == '.') {
		f = parse_int(f + 1, &sp->prec, ap);
		if (sp->prec < 0)
			sp->prec = -1;
	}
	*m = L_INT;
	if (*f == 'h') {
		*m = f[1] == 'h' ? L_CHAR : L_SHORT;
		f += f[1] == 'h' ? 2 : 1;
	} else if (*f == 'l') {
		*m = f[1] == 'l' ? L_LLONG : L_LONG;
		f += f[1] == 'l' ? 2 : 1;
	} else if (*f == 'z' || *f == 't' || *f == 'j') {
		*m = *f == 'j' ? L_LLONG : L_SIZE;
		f++;
	}
	return f;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct out o = { buf, size, 0 };
	va_list ap;

	va_copy(ap, ap_in);
	for (const char *f = fmt; *f; f++) {
		struct spec sp;
		enum len_mod m;

		if (*f != '%') {
			put(&o, *f);
			continue;
		}
		f = parse_spec(f + 1, &sp, &m, &ap);
		switch (*f) {
		case 'd':
		case 'i': {
			long long v = arg_signed(m, &ap);
			put_num(&o, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, v < 0, &sp);
			break;
		}
		case 'u':
			put_num(&o, arg_unsigned(m, &ap), false, &sp);
			break;
		case 'X':
			sp.upper = true;
			/* fall through */
		case 'x':
			sp.base = 16;
			sp.plus = sp.space = false;
			put_num(&o, arg_unsigned(m, &ap), false, &sp);
			break;
		case 'o':
			sp.base = 8;
			put_num(&o, arg_unsigned(m, &ap), false, &sp);
			break;
		case 'p':
			sp.base = 16;
			sp.alt = true;
			put_num(&o, (uintptr_t)va_arg(ap, void *), false, &sp);
			break;
		case 'c': {
			char c[2] = { (char)va_arg(ap, int), 0 };
			sp.prec = 1;
			put_str(&o, c, &sp);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			put_str(&o, s ? s : "(null)", &sp);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			f--; /* a lone '%' at the end */
			break;
		default: /* unknown conversion: show it rather than guess */
			put(&o, '%');
			put(&o, *f);
			break;
		}
	}
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vprintk(const char *fmt, va_list ap)
{
	char line[256];
	int n = kvsnprintf(line, sizeof(line), fmt, ap);

	console_write(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
	return n;
}

int printk(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}
