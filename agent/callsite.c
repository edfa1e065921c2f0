/*
 * callsite.c - call-site attribution of CLIENT spans (WIRETRACE_CAPTURE_CALLSITE=true|stack):
 * where in the program an outbound request came from, as code.function.name, and with `stack`
 * the whole native stack as code.stacktrace (semantic conventions, code.* attributes).
 *
 * Two halves on two threads, so that the request thread pays only for the unwinding:
 *  - capture, on the request thread, when a CLIENT span begins: unw_backtrace (libunwind's
 *    fast trace: a per-thread cache of frame layouts keyed by address), or glibc's backtrace()
 *    when libunwind is missing, DEPTH return addresses deep. A thread's first COLD_CAPTURES
 *    captures step a libunwind cursor instead (~1.5 us each), because building unw_backtrace's
 *    per-thread cache costs ~50 us at a thread's first call: a thread-per-request server
 *    would pay it for every request. Frames inside our own library are
 *    dropped by address range, and so are the frames above the program's own call site that
 *    belong to the libraries a request passes through (libc, the dynamic loader, libcurl and
 *    its TLS/HTTP2 libraries, sanitizer runtimes), found by the address ranges of those objects
 *    taken once with dl_iterate_phdr (and again when the symboliser sees such a frame first:
 *    a library loaded after the ranges were taken). With `true` the first remaining frame is
 *    kept, with `stack` the first STACK_FRAMES (from the call site down towards main). The
 *    addresses go into the span's own string buffer (exp_span.frames): nothing is allocated.
 *  - symbolisation, on the exporter thread, just before a batch is encoded (exp_symbolise_set):
 *    dladdr gives the object and the exported symbol; for a function that is not exported (an
 *    executable's own functions, unless linked with -rdynamic) the object's .symtab is read
 *    from its file (mapped once per object). Results are cached per address. The first frame
 *    outside the libraries above names code.function.name; frames are written as
 *    "function+0xoff (object+0xoff)", the object offset being what addr2line takes.
 *
 * Not done, because it is not cheap: code.file.path and code.line.number need the DWARF line
 * tables (.debug_line, often in a separate debug file); the object+offset in code.stacktrace is
 * there so that they can be found offline. Names are not demangled (C++ shows _Z names).
 * Interpreters (python3, node): the native frames name the interpreter's own functions
 * (_PyEval_EvalFrameDefault, ...), not the script's; this says little about the script.
 *
 * Cost: zero when off (callsite_on_client_span is one predictable branch); see
 * bench/callsite/RESULTS.md for the instructions per request when on.
 *
 * Threads: capture on any host thread (lock-free; ranges published through a double buffer);
 * the symboliser's caches belong to the exporter thread.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "callsite.h"
#include "crash.h"
#include "exporter.h"
#include "wt_log.h"

#define DEPTH 48        /* return addresses unwound per capture */
#define STACK_FRAMES 16 /* kept with `stack` */
#define RANGES 32
#define SMODS 64
#define CACHE 1024 /* power of two */
#define COLD_CAPTURES 16 /* a thread's first captures use the cursor unwinder */
#define PROBE 8
#define ELF_MAX (1u << 30)

/* Objects a request passes through below the program (base-name prefixes). */
static const char *const skip_names[] = {
    "libwiretrace", "libc.so",  "libc-",     "libpthread", "libdl.so",   "ld-linux",
    "ld64.so",      "libcurl",  "libssl",    "libcrypto",  "libgnutls",  "libnghttp2",
    "libasan",      "libubsan", "libunwind", "libgcc_s",   "linux-vdso", NULL,
};

static bool skip_name(const char *base)
{
	const char *const *p;

	for (p = skip_names; *p; p++)
		if (strncmp(base, *p, strlen(*p)) == 0)
			return true;
	return false;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* ---- capture (request threads) -------------------------------------------------------- */

struct rset {
	unsigned n;
	uintptr_t lo[RANGES], hi[RANGES];
};

static struct rset rsets[2];
static _Atomic int rset_cur = -1;
static _Atomic int ranges_busy, ranges_stale;
static uintptr_t self_lo, self_hi;
static wt_backtrace_fn bt, bt_cold;
static WT_TLS uint32_t thread_captures;
static _Atomic int cap_state; /* 0 not initialised, 1 initialising, 2 ready, -1 unusable */

static int range_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct rset *to = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0, me = (uintptr_t)&callsite_capture;
	unsigned i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (lo >= hi)
		return 0;
	if (me >= lo && me < hi) {
		self_lo = lo, self_hi = hi;
		return 0;
	}
	if (info->dlpi_name && info->dlpi_name[0] && skip_name(base_name(info->dlpi_name)) &&
	    to->n < RANGES) {
		to->lo[to->n] = lo;
		to->hi[to->n++] = hi;
	}
	return 0;
}

static void ranges_refresh(void)
{
	int expect = 0, next = atomic_load(&rset_cur) == 0 ? 1 : 0;

	if (!atomic_compare_exchange_strong(&ranges_busy, &expect, 1))
		return;
	atomic_store(&ranges_stale, 0);
	rsets[next].n = 0;
	dl_iterate_phdr(range_cb, &rsets[next]);
	atomic_store(&rset_cur, next);
	atomic_store(&ranges_busy, 0);
}

static void cap_init(void)
{
	int expect = 0;

	if (!atomic_compare_exchange_strong(&cap_state, &expect, 1))
		return;
	bt = crash_backtrace_fn();
	bt_cold = crash_backtrace_cold_fn();
	ranges_refresh();
	atomic_store(&cap_state, bt && self_hi ? 2 : -1);
}

static bool in_ranges(const struct rset *r, uintptr_t a)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		if (a >= r->lo[i] && a < r->hi[i])
			return true;
	return false;
}

void callsite_capture(struct exp_span *s)
{
	void *ip[DEPTH];
	uint64_t keep[STACK_FRAMES];
	const struct rset *r;
	int n, i, k = 0, want;
	size_t len, room;

	if (__builtin_expect(atomic_load_explicit(&cap_state, memory_order_acquire) != 2, 0)) {
		cap_init();
		if (atomic_load(&cap_state) != 2)
			return;
	}
	if (__builtin_expect(atomic_load_explicit(&ranges_stale, memory_order_relaxed), 0))
		ranges_refresh();
	r = &rsets[atomic_load_explicit(&rset_cur, memory_order_acquire) & 1];
	want = wt_cfg.callsite == WT_CALLSITE_STACK ? STACK_FRAMES : 1;
	/* unw_backtrace builds a per-thread cache at a thread's first call (~50 us): short-lived
	 * threads (thread-per-request servers) never pay it, long-lived ones pay it once. */
	if (thread_captures < COLD_CAPTURES && bt_cold) {
		thread_captures++;
		n = bt_cold(ip, DEPTH);
	} else {
		n = bt(ip, DEPTH);
	}
	for (i = 0; i < n && k < want; i++) {
		uintptr_t a = (uintptr_t)ip[i];

		/* Our frames anywhere; library frames above the program's own call site. */
		if ((a >= self_lo && a < self_hi) || (k == 0 && in_ranges(r, a)))
			continue;
		keep[k++] = a;
	}
	room = s->buf_used < EXP_SPAN_BUF ? EXP_SPAN_BUF - s->buf_used : 0;
	len = (size_t)k * EXP_FRAME_SIZE;
	if (len > room)
		len = room - room % EXP_FRAME_SIZE;
	if (len == 0)
		return;
	memcpy(s->buf + s->buf_used, keep, len);
	s->frames.off = s->buf_used;
	s->frames.len = (uint16_t)len;
	s->buf_used += (uint16_t)len;
}

/* ---- symbolisation (exporter thread) -------------------------------------------------- */

struct smod {
	uintptr_t bias;
	const void *lm; /* the link map it was made for */
	char path[256];
	const char *base;
	bool skip;
	int elf; /* 0 not read yet, 1 .symtab mapped, -1 none */
	const uint8_t *map;
	size_t maplen;
	const ElfW(Sym) * syms;
	size_t nsyms;
	const char *strs;
	size_t strsz;
};

struct sent {
	uint64_t ip;
	int16_t mod; /* index in mods, -1 unknown */
	uint8_t used;
	uint64_t off; /* from the function's start */
	char name[96];
	uint16_t line_len;
	char line[160]; /* its code.stacktrace line, made once */
};

static struct smod mods[SMODS];
static int nmods;
static struct sent cache[CACHE];

/* Map the object's file and find its .symtab; every offset is checked against the file. */
static void elf_load(struct smod *m)
{
	const ElfW(Ehdr) * eh;
	const ElfW(Shdr) * sh;
	struct stat st;
	size_t i;
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);

	m->elf = -1;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)sizeof(*eh) &&
	    st.st_size <= (off_t)ELF_MAX) {
		m->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		m->maplen = (size_t)st.st_size;
	}
	close(fd);
	if (!m->map || m->map == MAP_FAILED) {
		m->map = NULL;
		return;
	}
	eh = (const ElfW(Ehdr) *)m->map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_shentsize != sizeof(*sh) ||
	    eh->e_shoff > m->maplen || eh->e_shnum > (m->maplen - eh->e_shoff) / sizeof(*sh))
		goto fail;
	sh = (const ElfW(Shdr) *)(m->map + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		const ElfW(Shdr) * str;

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_entsize != sizeof(ElfW(Sym)) ||
		    sh[i].sh_link >= eh->e_shnum)
			continue;
		str = &sh[sh[i].sh_link];
		if (sh[i].sh_offset > m->maplen || sh[i].sh_size > m->maplen - sh[i].sh_offset ||
		    str->sh_offset > m->maplen || str->sh_size > m->maplen - str->sh_offset)
			continue;
		m->syms = (const ElfW(Sym) *)(m->map + sh[i].sh_offset);
		m->nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
		m->strs = (const char *)m->map + str->sh_offset;
		m->strsz = str->sh_size;
		m->elf = 1;
		return;
	}
fail:
	munmap((void *)m->map, m->maplen);
	m->map = NULL;
}

/* The function of .symtab that contains `rel` (an address before relocation). */
static bool elf_find(struct smod *m, uintptr_t rel, struct sent *e)
{
	size_t i;

	if (m->elf == 0)
		elf_load(m);
	for (i = 0; m->elf == 1 && i < m->nsyms; i++) {
		const ElfW(Sym) *y = &m->syms[i];
		int type = y->st_info & 0xf; /* ELF32_ST_TYPE and ELF64_ST_TYPE alike */
		const char *nm;

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || y->st_shndx == SHN_UNDEF ||
		    y->st_size == 0 || rel < y->st_value || rel - y->st_value >= y->st_size ||
		    y->st_name >= m->strsz)
			continue;
		nm = m->strs + y->st_name;
		if (!memchr(nm, 0, m->strsz - y->st_name))
			continue;
		strncpy(e->name, nm, sizeof(e->name) - 1);
		e->off = rel - y->st_value;
		return true;
	}
	return false;
}

static int mod_get(const struct link_map *lm)
{
	struct smod *m;
	int i;

	for (i = 0; i < nmods; i++)
		if (mods[i].lm == lm && mods[i].bias == lm->l_addr)
			return i;
	if (nmods == SMODS)
		return -1;
	m = &mods[nmods];
	memset(m, 0, sizeof(*m));
	m->lm = lm;
	m->bias = lm->l_addr;
	if (lm->l_name && lm->l_name[0]) {
		strncpy(m->path, lm->l_name, sizeof(m->path) - 1);
		m->base = base_name(m->path);
		m->skip = skip_name(m->base);
	} else { /* the executable */
		strcpy(m->path, "/proc/self/exe");
		m->base = wt_cfg.exe_name ? wt_cfg.exe_name : "?";
	}
	return nmods++;
}

/* The cache slot of ip: open addressing over PROBE slots (a direct-mapped cache would let two
 * frames of one stack evict each other at every span, and dladdr costs tens of thousands of
 * instructions: it walks the object's whole symbol table). */
static struct sent *slot(uint64_t ip, bool *hit)
{
	size_t h = (size_t)((ip * 0x9e3779b97f4a7c15ull) >> 54), i;

	for (i = 0; i < PROBE; i++) {
		struct sent *e = &cache[(h + i) & (CACHE - 1)];

		if (!e->used || e->ip == ip) {
			*hit = e->used;
			return e;
		}
	}
	*hit = false;
	return &cache[h & (CACHE - 1)]; /* full around here: replace the first */
}

/* "function+0xoff (object+0xoff)": the object offset is what addr2line takes. */
static void make_line(struct sent *e)
{
	const struct smod *m = e->mod >= 0 ? &mods[e->mod] : NULL;
	char *out = e->line;
	size_t cap = sizeof(e->line);
	int n;

	if (m && e->name[0])
		n = snprintf(out, cap, "%s+0x%llx (%s+0x%llx)", e->name, (unsigned long long)e->off,
		             m->base, (unsigned long long)(e->ip - m->bias));
	else if (m)
		n = snprintf(out, cap, "?? (%s+0x%llx)", m->base,
		             (unsigned long long)(e->ip - m->bias));
	else
		n = snprintf(out, cap, "?? (0x%llx)", (unsigned long long)e->ip);
	e->line_len = n > 0 && (size_t)n < cap ? (uint16_t)n : 0;
}

static const struct sent *lookup(uint64_t ip)
{
	uintptr_t pc = (uintptr_t)ip - 1; /* a return address: the call is just before it */
	struct link_map *lm = NULL;
	Dl_info di;
	bool hit;
	struct sent *e = slot(ip, &hit);

	if (hit)
		return e;
	memset(e, 0, sizeof(*e));
	e->used = 1, e->ip = ip, e->mod = -1;
	if (dladdr1((void *)pc, &di, (void **)&lm, RTLD_DL_LINKMAP) && lm) {
		e->mod = (int16_t)mod_get(lm);
		if (di.dli_sname && di.dli_saddr) {
			strncpy(e->name, di.dli_sname, sizeof(e->name) - 1);
			e->off = ip - (uintptr_t)di.dli_saddr;
		} else if (e->mod >= 0 && elf_find(&mods[e->mod], pc - lm->l_addr, e)) {
			e->off++; /* relative to the return address, like the dladdr case */
		}
	}
	make_line(e);
	return e;
}

static void symbolise(struct exp_span *s)
{
	uint64_t ip[STACK_FRAMES];
	char text[STACK_FRAMES * 160];
	size_t n = s->frames.len / EXP_FRAME_SIZE, i, len = 0, room;
	const struct sent *e, *named = NULL;
	bool first = true;

	if (n > STACK_FRAMES)
		n = STACK_FRAMES;
	if ((size_t)s->frames.off + n * EXP_FRAME_SIZE > s->buf_used)
		n = 0;
	memcpy(ip, s->buf + s->frames.off, n * EXP_FRAME_SIZE);
	memset(s->buf + s->frames.off, 0, n * EXP_FRAME_SIZE); /* ASCII again for the encoder */
	s->frames.len = 0;
	for (i = 0; i < n; i++) {
		bool skip;

		e = lookup(ip[i]);
		skip = e->mod >= 0 && mods[e->mod].skip;
		if (i == 0 && skip) /* a library loaded after the capture ranges were taken */
			atomic_store(&ranges_stale, 1);
		if (first && !skip) {
			first = false;
			named = e->name[0] ? e : NULL;
		}
		if (wt_cfg.callsite == WT_CALLSITE_STACK &&
		    (size_t)e->line_len + 1 < sizeof(text) - len) {
			memcpy(text + len, e->line, e->line_len);
			len += e->line_len;
			text[len++] = '\n';
		}
	}
	if (named)
		exp_span_add_str(s, "code.function.name", named->name, strlen(named->name));
	if (len) {
		room = s->buf_used < EXP_SPAN_BUF ? EXP_SPAN_BUF - s->buf_used : 0;
		room = room > 24 ? room - 24 : 0; /* the key */
		if (len > room)                   /* whole lines only */
			for (len = room; len && text[len] != '\n'; len--)
				;
		while (len && text[len - 1] == '\n')
			len--;
		if (len)
			exp_span_add_str(s, "code.stacktrace", text, len);
	}
}

void callsite_init(void)
{
	if (wt_cfg.callsite != WT_CALLSITE_OFF)
		exp_symbolise_set(symbolise);
}

void callsite_atfork_child(void)
{
	memset(cache, 0, sizeof(cache));
	nmods = 0; /* the parent's mappings stay mapped, unused */
	atomic_store(&ranges_busy, 0);
	if (atomic_load(&cap_state) == 1)
		atomic_store(&cap_state, 0);
}
