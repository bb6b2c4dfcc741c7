/* SPDX-License-Identifier: MIT */
/*
 * vmmd: one binary, two roles. Started normally it is the supervisor; the
 * supervisor re-executes it with --worker for each VM it starts.
 */
#include <string.h>

#include "vmmd/supervisor.h"
#include "vmmd/worker/worker.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--worker") == 0)
			return worker_main(argc, argv);
	return supervisor_main(argc, argv);
}
