/* SPDX-License-Identifier: MIT */
/*
 * Ownership by cleanup attributes, systemd's way (src/fundamental/macro-fundamental.h,
 * src/basic/fd-util.h): a local declared
 *
 *     _cleanup_close_ int fd = -EBADF;
 *     _cleanup_free_ char *buf = NULL;
 *     _cleanup_(json_object_putp) struct json_object *o = NULL;
 *
 * is released on every path out of its scope, so error paths stop
 * repeating resource lists by hand. On success, hand the resource on with
 * TAKE_FD(fd) / TAKE_PTR(p): it returns the value and leaves -EBADF / NULL
 * behind, so the cleanup does nothing.
 *
 * The base room sits below every other room and has no code of its own:
 * every room of the daemon and vmmctl may include it (not the guests,
 * which are freestanding). Only libc here; json_object_putp is declared
 * with DEFINE_TRIVIAL_CLEANUP_FUNC where json-c is (base/json_cleanup.h).
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Elements of an array (not of a pointer: the type check refuses one). */
#define ELEMENTSOF(a)                                                                  \
	(sizeof(a) / sizeof((a)[0]) +                                                  \
	 0 * sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0]))]))

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Close fd unless it is negative (-1, -EBADF: "no fd"); always returns -EBADF,
 * so `fd = safe_close(fd);` leaves the variable saying "no fd". errno is kept. */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void) close(fd);
		errno = saved;
	}
	return -EBADF;
}

static inline void closep(int *fd)
{
	(void) safe_close(*fd);
}

static inline void freep(void *p)
{
	free(*(void **) p);
}

/* A pair from pipe() or socketpair(): `_cleanup_close_pair_ int sv[2] = { -EBADF, -EBADF };` */
static inline void close_pairp(int (*pair)[2])
{
	(void) safe_close((*pair)[0]);
	(void) safe_close((*pair)[1]);
}

#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_close_pair_ _cleanup_(close_pairp)
#define _cleanup_free_  _cleanup_(freep)

/* A cleanup function for pointers of type `type` that calls func(p) unless p is NULL: funcp. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                        \
	static inline void func##p(type *p)                                            \
	{                                                                              \
		if (*p)                                                                \
			func(*p);                                                      \
	}

/* Return *p and set it to `null`, in one expression. */
#define TAKE_GENERIC(var, type, null)                                                  \
	({                                                                             \
		type *_pvar_ = &(var);                                                 \
		type _var_ = *_pvar_;                                                  \
		type _nullvalue_ = null;                                               \
		*_pvar_ = _nullvalue_;                                                 \
		_var_;                                                                 \
	})
#define TAKE_PTR(p) TAKE_GENERIC(p, __typeof__(p), NULL)
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)
