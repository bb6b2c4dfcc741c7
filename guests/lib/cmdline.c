// SPDX-License-Identifier: MIT
#include "cmdline.h"
#include "string.h"

static const char *cmdline = "";

void cmdline_set(const char *s)
{
	cmdline = s ? s : "";
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Find the last word that is "key" or starts with "key=". Returns the word,
 * with *ret_value set to its value (after '=') or NULL for a bare key, and
 * *ret_len to the value's length.
 */
static const char *lookup(const char *key, const char **ret_value, size_t *ret_len)
{
	size_t klen = strlen(key);
	const char *found = NULL, *value = NULL;
	size_t vlen = 0;
	const char *p = cmdline;

	if (!klen)
		return NULL;
	while (*p) {
		const char *word, *end;

		while (is_space(*p))
			p++;
		if (!*p)
			break;
		word = p;
		while (*p && !is_space(*p))
			p++;
		end = p;
		if ((size_t)(end - word) < klen || strncmp(word, key, klen))
			continue;
		if (word + klen == end) {
			found = word;
			value = NULL;
			vlen = 0;
		} else if (word[klen] == '=') {
			found = word;
			value = word + klen + 1;
			vlen = end - value;
		}
	}
	if (found) {
		*ret_value = value;
		*ret_len = vlen;
	}
	return found;
}

long cmdline_int(const char *key, long dflt)
{
	const char *v = NULL;
	size_t n = 0, i = 0;
	unsigned long r = 0, base = 10;
	bool neg = false;

	if (!lookup(key, &v, &n) || !v || !n)
		return dflt;
	if (v[i] == '-' || v[i] == '+') {
		neg = v[i] == '-';
		i++;
	}
	if (n - i > 2 && v[i] == '0' && (v[i + 1] == 'x' || v[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	if (i == n)
		return dflt;
	for (; i < n; i++) {
		char c = v[i];
		unsigned long d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return dflt;
		if (r > (~0UL - d) / base)
			return dflt;        /* overflow */
		r = r * base + d;
	}
	return neg ? -(long)r : (long)r;
}

bool cmdline_str(const char *key, char *buf, size_t size)
{
	const char *v = NULL;
	size_t n = 0;

	if (!lookup(key, &v, &n))
		return false;
	if (!size)
		return true;
	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(buf, v, n);
	buf[n] = '\0';
	return true;
}

bool cmdline_has(const char *key)
{
	const char *v = NULL;
	size_t n = 0;

	return lookup(key, &v, &n) != NULL;
}
