/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "proto/fds.h"

int rpc_fd_queue_push(struct rpc_fd_queue *q, int fd)
{
	if (q->n >= RPC_FD_QUEUE_MAX) {
		close(fd);
		return -EMFILE;
	}
	q->fd[q->n++] = fd;
	return 0;
}

void rpc_fd_queue_pop(struct rpc_fd_queue *q, size_t n, struct rpc_fds *ret)
{
	if (n > q->n)
		n = q->n;
	if (n > RPC_MAX_FDS)
		n = RPC_MAX_FDS;
	memcpy(ret->fd, q->fd, n * sizeof(q->fd[0]));
	ret->n = n;
	memmove(q->fd, q->fd + n, (q->n - n) * sizeof(q->fd[0]));
	q->n -= n;
}

void rpc_fd_queue_clear(struct rpc_fd_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		close(q->fd[i]);
	q->n = 0;
}

/* 1 + the highest valid index one request's params.files names, or 0. */
static size_t request_fds(struct json_object *req)
{
	struct json_object *params, *files;
	size_t n = 0;

	if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, "params", &params) ||
	    !json_object_object_get_ex(params, "files", &files) || !json_object_is_type(files, json_type_object))
		return 0;
	json_object_object_foreach(files, name, v) {
		(void) name;
		if (!json_object_is_type(v, json_type_int))
			continue;
		int64_t i = json_object_get_int64(v);
		if (i >= 0 && i < RPC_MAX_FDS && (size_t) i + 1 > n)
			n = (size_t) i + 1;
	}
	return n;
}

size_t rpc_message_fd_count(struct json_object *msg)
{
	if (!json_object_is_type(msg, json_type_array))
		return request_fds(msg);
	size_t n = 0;
	for (size_t i = 0; i < json_object_array_length(msg); i++) {
		size_t k = request_fds(json_object_array_get_idx(msg, i));
		if (k > n)
			n = k;
	}
	return n;
}

int rpc_fds_take(struct rpc_fds *f, size_t index)
{
	if (!f || index >= f->n || f->fd[index] < 0)
		return -EBADF;
	int fd = f->fd[index];
	f->fd[index] = -1;
	return fd;
}

void rpc_fds_close(struct rpc_fds *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	f->n = 0;
}
