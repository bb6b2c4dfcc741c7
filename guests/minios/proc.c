// SPDX-License-Identifier: MIT
/*
 * minios: processes and the scheduler.
 *
 * A process is a slot in procs[]: its own PML4 (vm.c), a kernel stack in
 * kstacks[], and the state below. Runnable processes other than the one on
 * the CPU (`cur`) wait in a FIFO run queue: round-robin. A process runs
 * until it blocks (read, sleep, wait), yields, exits, or is preempted:
 *
 *   - by the tick, once it has had QUANTUM ticks while another process
 *     was runnable (the tick runs only then, or while one sleeps; pit.c);
 *   - by console input: an interrupt from user mode that wakes the process
 *     blocked in read() switches to it at once, the seed's worked example
 *     ("a key arrives by interrupt, the kernel switches back").
 *
 * Switching saves the callee-saved registers on the old kernel stack and
 * resumes the new one (kentry.S swtch), loads the new PML4 into CR3 unless
 * it is loaded already, and points TSS.rsp0 at the new kernel stack. With
 * nothing runnable the kernel halts (`sti; hlt; cli`) on the kernel stack
 * of whoever ran last, keeping its CR3: idling never switches page tables.
 *
 * Page-table switches therefore happen only in switch_to(): ptswitch counts
 * them (INFO_CR3_WRITES) and vmmd counts the same mov-to-CR3s in shadow
 * mode (stats.get pt_switches.guest).
 *
 * A process that exits becomes a zombie holding its exit status until its
 * parent's wait() (or, without a parent, at once); its user pages go at
 * exit, its PML4 once the CPU has switched away from it (finish_switch()).
 */
#include "minios.h"

struct proc *cur;
struct kstats kstats;

static struct proc procs[NPROC];
static uint8_t kstacks[NPROC][KSTACK_SIZE] __attribute__((aligned(16), section(".noinit.kstacks")));
static struct proc *runq_head, *runq_tail;
static unsigned runq_len;
static struct proc *readers_head, *readers_tail;        /* blocked in read(), FIFO */
static unsigned nrunnable, nsleepers;
static struct proc *preempt_to;         /* woken from an interrupt: run it before user mode resumes */
static bool need_resched;               /* the quantum is over */
static struct proc *dying;              /* exited, its PML4 still loaded: freed after the switch */
static uint64_t loaded_cr3;
static int next_pid = 1;

/* --- queues and states ---------------------------------------------------------- */

static void queue_push(struct proc **head, struct proc **tail, struct proc *p)
{
	p->next = NULL;
	if (*tail)
		(*tail)->next = p;
	else
		*head = p;
	*tail = p;
}

static struct proc *queue_pop(struct proc **head, struct proc **tail)
{
	struct proc *p = *head;

	if (p) {
		*head = p->next;
		if (!*head)
			*tail = NULL;
		p->next = NULL;
	}
	return p;
}

static void queue_remove(struct proc **head, struct proc **tail, struct proc *p)
{
	struct proc **link = head, *prev = NULL;

	while (*link && *link != p) {
		prev = *link;
		link = &(*link)->next;
	}
	if (!*link)
		return;
	*link = p->next;
	if (*tail == p)
		*tail = prev;
	p->next = NULL;
}

static void runq_push(struct proc *p)
{
	queue_push(&runq_head, &runq_tail, p);
	runq_len++;
}

static struct proc *runq_pop(void)
{
	struct proc *p = queue_pop(&runq_head, &runq_tail);

	if (p)
		runq_len--;
	return p;
}

static void runq_remove(struct proc *p)
{
	queue_remove(&runq_head, &runq_tail, p);
	runq_len--;
}

static void set_state(struct proc *p, enum pstate s)
{
	if (p->state == P_RUNNABLE)
		nrunnable--;
	if (s == P_RUNNABLE)
		nrunnable++;
	p->state = s;
}

/*
 * The tick runs while it has work: round-robin among 2+ runnable processes,
 * or waking sleepers (pit.c: stopped otherwise). It stops as soon as it has
 * none, but starts only on the way back to user mode or into the idle loop
 * (may_start): the kernel is never preempted anyway, and a start deferred
 * past the work of a switch keeps a short stretch with two runnable
 * processes (ptswitch's) shorter than a tick period even where that work
 * is slow (a vmmd shadow-table flush).
 */
static void timer_update(bool may_start)
{
	bool want = nrunnable >= 2 || nsleepers > 0;

	if (!want || may_start)
		pit_set(want);
}

static void wake(struct proc *p)
{
	set_state(p, P_RUNNABLE);
	p->waiting = W_NONE;
	runq_push(p);
	timer_update(false);
}

/* --- switching ------------------------------------------------------------------- */

static void finish_switch(void)
{
	struct proc *d = dying;

	if (d) {
		dying = NULL;
		vm_free_pml4(d);
		if (!d->parent)
			set_state(d, P_UNUSED);
	}
}

/* kentry.S: a new process's first time on the CPU. */
void proc_first_run(void);
void proc_first_run(void)
{
	finish_switch();
	timer_update(true);     /* leaving for user mode */
}

static void switch_to(struct proc *next)
{
	struct proc *prev = cur;

	if (prev->state == P_ZOMBIE)
		dying = prev;
	if (next->pml4 != loaded_cr3) {
		write_cr3(next->pml4);          /* the guest page-table switch */
		loaded_cr3 = next->pml4;
		kstats.cr3_writes++;
	}
	tss_set_rsp0(next->kstack_top);
	cur = next;
	next->quantum = QUANTUM;
	kstats.switches++;
	swtch(&prev->ksp, next->ksp);
	finish_switch();
}

static void idle(void)
{
	kstats.idle_halts++;
	/* sti's one-instruction shadow: no interrupt slips in before the hlt. */
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

/*
 * Give the CPU to the next runnable process. The caller has set cur's state
 * (and queued it if it stays runnable); returns when cur runs again.
 */
static void sched(void)
{
	for (;;) {
		struct proc *next;

		timer_update(true);
		next = runq_pop();

		if (next) {
			if (next != cur)
				switch_to(next);
			else
				cur->quantum = QUANTUM;
			return;
		}
		idle();
	}
}

/* --- life and death --------------------------------------------------------------- */

void proc_init(void)
{
	unsigned i;

	for (i = 0; i < NPROC; i++)
		procs[i].kstack_top = (uint64_t) (uintptr_t) &kstacks[i][KSTACK_SIZE];
}

int proc_spawn(const char *cmd, size_t len, struct proc *parent)
{
	const struct image *im;
	struct proc *p = NULL;
	struct trapframe *tf;
	uint64_t entry, stack, sp, *k;
	size_t nlen = 0, alen;
	const char *args;
	unsigned i;
	int r;

	while (nlen < len && cmd[nlen] != ' ')
		nlen++;
	im = image_find(cmd, nlen);
	if (!im)
		return -E_NOENT;
	for (i = 0; i < NPROC && !p; i++)
		if (procs[i].state == P_UNUSED)
			p = &procs[i];
	if (!p)
		return -E_AGAIN;

	r = vm_create(p);
	if (r < 0)
		return r;
	r = image_load(p, im, &entry);
	stack = r < 0 ? 0 : page_alloc();
	if (r < 0 || !stack || (r = vm_map(p, USER_STACK_TOP - PAGE_SIZE, stack, PTE_U | PTE_W, true)) < 0) {
		if (stack && r < 0)
			page_free(stack);
		vm_free_user(p);
		vm_free_pml4(p);
		return r < 0 ? r : -E_NOMEM;
	}

	/* The argument string (after the name) on top of the user stack: main(args). */
	args = cmd + nlen;
	alen = len - nlen;
	while (alen && *args == ' ')
		args++, alen--;
	if (alen > PAGE_SIZE / 2)
		alen = PAGE_SIZE / 2;
	sp = USER_STACK_TOP - align_up(alen + 1, 16);
	memcpy((char *) phys(stack) + (sp - (USER_STACK_TOP - PAGE_SIZE)), args, alen);
	((char *) phys(stack))[sp - (USER_STACK_TOP - PAGE_SIZE) + alen] = '\0';

	/* The kernel stack: a trap frame to leave for user mode through, and
	 * below it what swtch pops (six registers, then proc_first_entry). */
	tf = (struct trapframe *) (uintptr_t) (p->kstack_top - sizeof(*tf));
	memset(tf, 0, sizeof(*tf));
	tf->rip = entry;
	tf->cs = USER_CS;
	tf->rflags = RFLAGS_IF | RFLAGS_FIXED;
	tf->rsp = sp;
	tf->ss = USER_DS;
	tf->rdi = sp;
	k = (uint64_t *) tf;
	*--k = (uint64_t) (uintptr_t) proc_first_entry;
	for (i = 0; i < 6; i++)
		*--k = 0;
	p->ksp = (uint64_t) (uintptr_t) k;

	p->pid = next_pid++;
	p->parent = parent;
	p->status = 0;
	p->de_skip = 0;
	p->waiting = W_NONE;
	if (nlen > sizeof(p->name) - 1)
		nlen = sizeof(p->name) - 1;
	memcpy(p->name, cmd, nlen);
	p->name[nlen] = '\0';
	set_state(p, P_RUNNABLE);
	runq_push(p);
	return p->pid;
}

void proc_start_first(void)
{
	struct proc *p = runq_pop();
	uint64_t boot_ksp;

	cur = p;
	write_cr3(p->pml4);
	loaded_cr3 = p->pml4;
	kstats.cr3_writes++;
	tss_set_rsp0(p->kstack_top);
	p->quantum = QUANTUM;
	swtch(&boot_ksp, p->ksp);
	panic("the boot context ran again");
}

/* Its children now have no parent: zombies among them go, the others are
 * reaped when they exit. */
static void orphan_children(struct proc *p)
{
	unsigned i;

	for (i = 0; i < NPROC; i++) {
		struct proc *q = &procs[i];

		if (q->state == P_UNUSED || q->parent != p)
			continue;
		q->parent = NULL;
		if (q->state == P_ZOMBIE && q != dying)
			set_state(q, P_UNUSED);
	}
}

void proc_exit(int status)
{
	struct proc *p = cur;

	if (p->pid == 1) {
		kprintf("minios: the shell exited with status %d, powering off\n", status);
		vmm_exit(status & 0xff);
	}
	vm_free_user(p);
	orphan_children(p);
	p->status = status;
	set_state(p, P_ZOMBIE);
	if (p->parent && p->parent->state == P_BLOCKED && p->parent->waiting == W_CHILD)
		wake(p->parent);
	sched();
	panic("pid %d ran after exit", p->pid);
}

int proc_kill(int pid)
{
	struct proc *q = NULL;
	unsigned i;

	for (i = 0; i < NPROC && !q; i++)
		if (procs[i].pid == pid && (procs[i].state == P_RUNNABLE || procs[i].state == P_BLOCKED))
			q = &procs[i];
	if (!q)
		return -E_SRCH;
	if (q == cur)
		proc_exit(STATUS_KILLED);
	if (q->parent != cur)
		return -E_PERM;
	if (q->state == P_RUNNABLE)
		runq_remove(q);
	else if (q->waiting == W_READ)
		queue_remove(&readers_head, &readers_tail, q);
	else if (q->waiting == W_SLEEP)
		nsleepers--;
	q->status = STATUS_KILLED;
	q->waiting = W_NONE;
	set_state(q, P_ZOMBIE);
	timer_update(false);    /* first: freeing pages can be slow in shadow mode */
	/* Not on the CPU, so its PML4 is not loaded: free everything now. */
	vm_free_user(q);
	vm_free_pml4(q);
	orphan_children(q);
	return 0;
}

int proc_wait(int pid, uint64_t status_va)
{
	for (;;) {
		bool any = false;
		unsigned i;

		for (i = 0; i < NPROC; i++) {
			struct proc *q = &procs[i];

			if (q->state == P_UNUSED || q->parent != cur || (pid != -1 && q->pid != pid))
				continue;
			any = true;
			if (q->state == P_ZOMBIE && q != dying) {
				int qpid = q->pid;

				if (status_va)
					*(int *) (uintptr_t) status_va = q->status;
				set_state(q, P_UNUSED);
				return qpid;
			}
		}
		if (!any)
			return -E_CHILD;
		set_state(cur, P_BLOCKED);
		cur->waiting = W_CHILD;
		sched();
	}
}

/* --- blocking and waking ----------------------------------------------------------- */

bool proc_yield(void)
{
	if (!runq_len)
		return false;
	kstats.yield_switches++;
	runq_push(cur);
	sched();
	return true;
}

void proc_sleep(uint64_t ticks)
{
	if (!ticks) {
		proc_yield();
		return;
	}
	cur->wake_tick = kstats.ticks + ticks;
	cur->waiting = W_SLEEP;
	nsleepers++;
	set_state(cur, P_BLOCKED);
	sched();
}

void proc_block_read(void)
{
	cur->waiting = W_READ;
	queue_push(&readers_head, &readers_tail, cur);
	set_state(cur, P_BLOCKED);
	sched();
}

void proc_wake_reader(void)
{
	struct proc *p = queue_pop(&readers_head, &readers_tail);

	if (!p)
		return;
	wake(p);
	if (p != cur)
		preempt_to = p;
}

void proc_tick(void)
{
	unsigned i;

	kstats.ticks++;
	if (nsleepers) {
		for (i = 0; i < NPROC; i++) {
			struct proc *q = &procs[i];

			if (q->state == P_BLOCKED && q->waiting == W_SLEEP && q->wake_tick <= kstats.ticks) {
				nsleepers--;
				wake(q);
			}
		}
	}
	if (cur && cur->state == P_RUNNABLE && cur->quantum && --cur->quantum == 0)
		need_resched = true;
}

/* The end of every trap: back to user mode, unless someone should run first. */
void proc_trap_exit(const struct trapframe *tf)
{
	struct proc *p = preempt_to;
	bool resched = need_resched;

	preempt_to = NULL;
	need_resched = false;
	if (!trap_from_user(tf) || cur->state != P_RUNNABLE)
		return;         /* the idle loop picks the next process itself */
	if (p && p != cur && p->state == P_RUNNABLE) {
		runq_remove(p);
		runq_push(cur);
		switch_to(p);
	} else if (resched && runq_len) {
		runq_push(cur);
		sched();
	}
	timer_update(true);
}
