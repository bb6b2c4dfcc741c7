// SPDX-License-Identifier: MIT
/*
 * sh: minios's shell, a user program (pid 1). Its argument is the kernel
 * command line's script (`script=cmd;cmd` or `script="cmd args;cmd"`): it
 * runs each command as if typed, then reads commands from the console
 * (COM1, through read()), echoing what it reads.
 *
 * Each command line is a program name from the built-in image table and
 * its arguments: the shell spawns it, waits for it, and prints its exit
 * status when it is not 0 (128 + vector: killed by that exception; 137:
 * kill()). Built-ins: `help` (the programs), `exit [status]` (the kernel
 * powers the VM off with that status).
 *
 * Its first two system calls, one `syscall` and one `int $0x80`, are the
 * kernel's probe of how this host delivers them (lib/entry_path.h).
 */
#include "ulib.h"

#define LINE_MAX 256

static void run(char *line)
{
	char *end;
	char name[32];
	size_t nlen;
	int pid, status = 0;

	line = (char *) skip_spaces(line);
	for (end = line + strlen(line); end > line && (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	*end = '\0';
	if (!*line)
		return;
	nlen = word_len(line);
	if (nlen > sizeof(name) - 1)
		nlen = sizeof(name) - 1;
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	if (nlen == 4 && !strncmp(name, "help", 4)) {
		char names[512];

		programs(names, sizeof(names));
		printf("programs: %s\nbuilt-ins: help, exit [status]\n", names);
		return;
	}
	if (nlen == 4 && !strncmp(name, "exit", 4))
		exit((int) parse_long(next_word(line), 0));
	pid = spawn(line);
	if (pid < 0) {
		if (pid == -E_NOENT)
			printf("sh: %s: no such program (try help)\n", name);
		else
			printf("sh: %s: cannot start it (error %d)\n", name, -pid);
		return;
	}
	if (wait(pid, &status) != pid)
		printf("sh: %s: wait failed\n", name);
	else if (status)
		printf("sh: %s: exit status %d\n", name, status);
}

static void run_script(const char *script)
{
	char line[LINE_MAX];

	while (*script) {
		size_t n = 0;

		while (script[n] && script[n] != ';')
			n++;
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, script, n);
		line[n] = '\0';
		script += n;
		if (*script == ';')
			script++;
		if (*skip_spaces(line)) {
			printf("minios$ %s\n", skip_spaces(line));
			run(line);
		}
	}
}

/* One line from the console, echoed; CR, LF and CR LF end it; backspace edits. */
static void read_line(char *buf, size_t size)
{
	static bool after_cr;
	size_t n = 0;
	char c;

	for (;;) {
		if (read(&c, 1) != 1)
			continue;
		if (c == '\n' && after_cr) {
			after_cr = false;
			continue;
		}
		after_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			write("\n", 1);
			buf[n] = '\0';
			return;
		}
		if (c == '\b' || c == 0x7f) {
			if (n) {
				n--;
				write("\b \b", 3);
			}
			continue;
		}
		if ((unsigned char) c < ' ' || n == size - 1)
			continue;
		buf[n++] = c;
		write(&c, 1);
	}
}

int main(const char *script)
{
	char line[LINE_MAX];

	sys0(SYS_PROBE);
	int80_1(SYS_PROBE, 0);
	run_script(script);
	for (;;) {
		printf("minios$ ");
		flush();
		read_line(line, sizeof(line));
		run(line);
	}
}
