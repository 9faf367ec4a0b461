/*
 * virtio-fuzz: a hostile virtio-pci driver that runs as root inside the test guest (issue #17).
 *
 * It takes one virtio-pci function away from its kernel driver, drives it from user space through its BAR
 * (mmap of /sys/bus/pci/devices/X/resourceN) and its config space (/sys/.../config), feeds it hostile virtqueues
 * and register sequences from a seed, and every N iterations checks that the device still resets and serves
 * one correct request. At the end it hands the function back to virtio-pci and checks the driver's node.
 * Devices: virtio-net (hostile vnet headers and frames on both queues, a transmit flood with the receive queue never
 * refilled), virtio-blk, virtio-console and virtio-rng.
 * It prints exactly one summary line ("virtio-fuzz: ok|FAIL ...") and exits 0 only when ok.
 *
 * Guest safety: the device is only ever pointed at this process's own mlock'ed pages (by their guest-physical
 * address from /proc/self/pagemap) or at addresses where a device write hits nothing (VOID: holes and addresses
 * beyond RAM). MMIO addresses (IOAPIC, the MSI window, BARs) are only used where the device reads and the value
 * read cannot steer a write (avail rings, console/rng readable buffers, net transmit buffers: a frame's bytes reach
 * only the network, and anything answering lands in our own receive buffers). MSI-X is enabled with the function
 * masked for the whole run, so no interrupt reaches the guest kernel from the unbound function.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

/* virtio_pci_common_cfg offsets */
#define C_DFSEL 0x00
#define C_DF 0x04
#define C_GFSEL 0x08
#define C_GF 0x0c
#define C_MSIX 0x10
#define C_NUMQ 0x12
#define C_STATUS 0x14
#define C_GEN 0x15
#define C_QSEL 0x16
#define C_QSIZE 0x18
#define C_QMSIX 0x1a
#define C_QEN 0x1c
#define C_QNOFF 0x1e
#define C_QDESC 0x20
#define C_QAVAIL 0x28
#define C_QUSED 0x30
#define C_QRESET 0x3a

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40
#define S_FAILED 0x80

#define F_INDIRECT (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_VERSION_1 (1ull << 32)
#define F_ACCESS_PLATFORM (1ull << 33)
#define F_RING_RESET (1ull << 40)

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

#define ID_NET 0x1041
#define ID_BLK 0x1042
#define ID_CONSOLE 0x1043
#define ID_RNG 0x1044
/* transitional devices (QEMU's default) have the legacy ids; the fuzzer drives their modern interface */
#define ID_NET_T 0x1000
#define ID_BLK_T 0x1001
#define ID_CONSOLE_T 0x1003
#define ID_RNG_T 0x1005

/* virtio-net feature bits, config layout and header */
#define N_CSUM 0
#define N_GUEST_CSUM 1
#define N_CTRL_GUEST_OFFLOADS 2
#define N_MTU 3
#define N_MAC 5
#define N_GUEST_TSO4 7
#define N_GUEST_TSO6 8
#define N_GUEST_ECN 9
#define N_GUEST_UFO 10
#define N_HOST_TSO4 11
#define N_HOST_TSO6 12
#define N_HOST_ECN 13
#define N_HOST_UFO 14
#define N_MRG_RXBUF 15
#define N_STATUS 16
#define N_CTRL_VQ 17
#define N_MQ 22
#define NF(b) (1ull << (b))
#define NET_HDR 12u /* virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers */
#define NET_RX_BUF 2048u

static unsigned modern_id(unsigned id)
{
    return id == ID_BLK_T ? ID_BLK : id == ID_CONSOLE_T ? ID_CONSOLE : id == ID_RNG_T ? ID_RNG : id == ID_NET_T ? ID_NET : id;
}

struct vdesc
{
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct page
{
    uint8_t *va;
    uint64_t pa;
};

/* ---- options and run state (read by the watchdog and the summary) ---- */

static const char *o_dev = "blk";
static uint64_t o_seed = 1;
static long o_iters = 100;
static const char *o_mode = "all";
static int o_seconds = 20;
static int o_health_every = 10;
static int o_watchdog;
static int o_wait_ms = 20;
static int o_verbose;
static long o_req_kib;
static int o_depth;
static int o_no_short; /* net: never post a chain shorter than the 12-byte vnet header (QEMU 7.2 aborts on one) */
static int o_maxlat_ms; /* default: 1000, or 5000 in flood mode (QEMU reaches 1.5 s there in the nested runner) */

static char g_addr[32] = "?";
static unsigned g_id;
static long g_iter;
static long g_health;
static long g_badregs;
static long g_completed;
static long g_errors;
static int g_notes;
static char g_phase[96] = "start";
static char g_extra[512];
static struct timespec g_start;
static volatile int g_summary_done;

static void summary(int ok, const char *reason);

static double elapsed_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - g_start.tv_sec) + (double)(t.tv_nsec - g_start.tv_nsec) / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void note(const char *fmt, ...)
{
    if (g_notes++ >= 40 && !o_verbose)
    {
        return;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("virtio-fuzz: note iter=%ld %s\n", g_iter, buf);
    fflush(stdout);
}

static void restore_quietly(void);

/* A failure: one summary line, then a best-effort hand back to the driver (silent), exit 1. */
static void fail(const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    summary(0, buf);
    restore_quietly();
    exit(1);
}

static void die_setup(const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char full[480];
    snprintf(full, sizeof full, "setup: %s", buf);
    summary(0, full);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    char buf[256];
    snprintf(buf, sizeof buf, "watchdog: run still going after %d s (phase: %s)", o_watchdog, g_phase);
    summary(0, buf);
    _exit(1);
}

/* ---- PRNG: splitmix64 ---- */

static uint64_t g_rng;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static int chance(unsigned one_in)
{
    return below(one_in) == 0;
}

/* ---- MMIO: one instruction per access, so the VMM sees exactly this width ---- */

static uint8_t *g_bar[6];
static uint64_t g_bar_len[6];
static uint64_t g_bar_pa[6];

static uint64_t mmio_rd(volatile void *p, int w)
{
    uint64_t v = 0;
    switch (w)
    {
    case 1: { uint8_t x; __asm__ volatile("movb %1, %0" : "=q"(x) : "m"(*(volatile uint8_t *)p) : "memory"); v = x; break; }
    case 2: { uint16_t x; __asm__ volatile("movw %1, %0" : "=r"(x) : "m"(*(volatile uint16_t *)p) : "memory"); v = x; break; }
    case 4: { uint32_t x; __asm__ volatile("movl %1, %0" : "=r"(x) : "m"(*(volatile uint32_t *)p) : "memory"); v = x; break; }
    default: { uint64_t x; __asm__ volatile("movq %1, %0" : "=r"(x) : "m"(*(volatile uint64_t *)p) : "memory"); v = x; break; }
    }
    return v;
}

static void mmio_wr(volatile void *p, int w, uint64_t v)
{
    switch (w)
    {
    case 1: __asm__ volatile("movb %1, %0" : "=m"(*(volatile uint8_t *)p) : "q"((uint8_t)v) : "memory"); break;
    case 2: __asm__ volatile("movw %1, %0" : "=m"(*(volatile uint16_t *)p) : "r"((uint16_t)v) : "memory"); break;
    case 4: __asm__ volatile("movl %1, %0" : "=m"(*(volatile uint32_t *)p) : "r"((uint32_t)v) : "memory"); break;
    default: __asm__ volatile("movq %1, %0" : "=m"(*(volatile uint64_t *)p) : "r"(v) : "memory"); break;
    }
}

/* ---- the function: config space, capabilities, regions ---- */

struct region
{
    const char *name;
    int bar;
    uint32_t off;
    uint32_t len;
    uint8_t *p;
};

static char g_sys[128];
static int g_cfg_fd = -1;
static struct region r_common, r_notify, r_isr, r_device, r_msix_table, r_msix_pba;
static uint32_t g_notify_mult;
static int g_msix_cap;
static uint16_t g_msix_ctrl_orig;
static uint16_t g_cmd_orig;
static int g_unbound;
static int g_numq;
static uint64_t g_dev_features;
static uint16_t g_qmax[64];
static uint16_t g_qnoff[64];

static int sysfs_write(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
    {
        return -errno;
    }
    ssize_t n = write(fd, s, strlen(s));
    int e = n < 0 ? -errno : 0;
    close(fd);
    return e;
}

static int sysfs_read(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
    {
        return -1;
    }
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
    {
        return -1;
    }
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
    {
        buf[--n] = 0;
    }
    return 0;
}

static uint32_t cfg_rd(int off, int w)
{
    uint32_t v = 0;
    if (pread(g_cfg_fd, &v, (size_t)w, off) != w)
    {
        fail("config read at 0x%x failed: %s", off, strerror(errno));
    }
    return v;
}

static void cfg_wr(int off, int w, uint32_t v)
{
    if (pwrite(g_cfg_fd, &v, (size_t)w, off) != w)
    {
        fail("config write at 0x%x failed: %s", off, strerror(errno));
    }
}

static int find_function(void)
{
    if (strchr(o_dev, ':'))
    {
        snprintf(g_addr, sizeof g_addr, "%s", o_dev);
        return 0;
    }
    unsigned want = strcmp(o_dev, "blk") == 0 ? ID_BLK : strcmp(o_dev, "console") == 0 ? ID_CONSOLE
        : strcmp(o_dev, "rng") == 0 ? ID_RNG : strcmp(o_dev, "net") == 0 ? ID_NET : modern_id((unsigned)strtoul(o_dev, NULL, 16));
    DIR *dir = opendir("/sys/bus/pci/devices");
    if (!dir)
    {
        return -1;
    }
    struct dirent *de;
    int found = -1;
    while ((de = readdir(dir)) != NULL)
    {
        const char *name = de->d_name;
        if (name[0] == '.')
        {
            continue;
        }
        char path[320], v[32], d[32];
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/vendor", name);
        if (sysfs_read(path, v, sizeof v))
        {
            continue;
        }
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/device", name);
        if (sysfs_read(path, d, sizeof d))
        {
            continue;
        }
        if (strtoul(v, NULL, 16) == 0x1af4 && modern_id((unsigned)strtoul(d, NULL, 16)) == want && found < 0 && strlen(name) < sizeof g_addr)
        {
            memcpy(g_addr, name, strlen(name) + 1);
            found = 0;
        }
    }
    closedir(dir);
    return found;
}

static struct region *region_for_type(int t)
{
    switch (t)
    {
    case 1: return &r_common;
    case 2: return &r_notify;
    case 3: return &r_isr;
    case 4: return &r_device;
    default: return NULL;
    }
}

static void map_bar(int bar)
{
    if (g_bar[bar])
    {
        return;
    }
    char path[160];
    snprintf(path, sizeof path, "%s/resource%d", g_sys, bar);
    int fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0)
    {
        die_setup("open %s: %s", path, strerror(errno));
    }
    struct stat st;
    fstat(fd, &st);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
    {
        die_setup("mmap %s: %s", path, strerror(errno));
    }
    close(fd);
    g_bar[bar] = p;
    g_bar_len[bar] = (uint64_t)st.st_size;
    /* guest-physical base from the resource file (one "start end flags" line per BAR) */
    snprintf(path, sizeof path, "%s/resource", g_sys);
    FILE *f = fopen(path, "r");
    if (f)
    {
        unsigned long long s, e, fl;
        for (int i = 0; i <= bar && fscanf(f, "%llx %llx %llx", &s, &e, &fl) == 3; i++)
        {
            if (i == bar)
            {
                g_bar_pa[bar] = s;
            }
        }
        fclose(f);
    }
}

static void walk_caps(void)
{
    int pos = cfg_rd(0x34, 1) & 0xfc;
    for (int guard = 0; pos && guard < 48; guard++)
    {
        int id = cfg_rd(pos, 1);
        int next = cfg_rd(pos + 1, 1) & 0xfc;
        if (id == 0x09)
        {
            int type = cfg_rd(pos + 3, 1);
            struct region *r = region_for_type(type);
            if (r && !r->name)
            {
                r->name = type == 1 ? "common" : type == 2 ? "notify" : type == 3 ? "isr" : "device";
                r->bar = cfg_rd(pos + 4, 1);
                r->off = cfg_rd(pos + 8, 4);
                r->len = cfg_rd(pos + 12, 4);
                if (type == 2)
                {
                    g_notify_mult = cfg_rd(pos + 16, 4);
                }
            }
        }
        else if (id == 0x11 && !g_msix_cap)
        {
            g_msix_cap = pos;
        }
        pos = next;
    }
    if (!r_common.name || !r_notify.name || !r_isr.name)
    {
        die_setup("virtio capabilities missing (common=%d notify=%d isr=%d)", !!r_common.name, !!r_notify.name, !!r_isr.name);
    }
    struct region *all[] = { &r_common, &r_notify, &r_isr, &r_device };
    for (int i = 0; i < 4; i++)
    {
        if (all[i]->name)
        {
            if (all[i]->bar > 5)
            {
                die_setup("%s capability names BAR %d", all[i]->name, all[i]->bar);
            }
            map_bar(all[i]->bar);
            if ((uint64_t)all[i]->off + all[i]->len > g_bar_len[all[i]->bar])
            {
                die_setup("%s region 0x%x+0x%x beyond BAR %d (0x%" PRIx64 ")", all[i]->name, all[i]->off, all[i]->len,
                    all[i]->bar, g_bar_len[all[i]->bar]);
            }
            all[i]->p = g_bar[all[i]->bar] + all[i]->off;
        }
    }
    if (g_msix_cap)
    {
        uint16_t ctrl = (uint16_t)cfg_rd(g_msix_cap + 2, 2);
        uint32_t t = cfg_rd(g_msix_cap + 4, 4), pba = cfg_rd(g_msix_cap + 8, 4);
        int n = (ctrl & 0x7ff) + 1;
        r_msix_table = (struct region){ "msix-table", (int)(t & 7), t & ~7u, (uint32_t)n * 16, NULL };
        r_msix_pba = (struct region){ "msix-pba", (int)(pba & 7), pba & ~7u, (uint32_t)((n + 63) / 64) * 8, NULL };
        if (r_msix_table.bar <= 5)
        {
            map_bar(r_msix_table.bar);
            r_msix_table.p = g_bar[r_msix_table.bar] + r_msix_table.off;
        }
        if (r_msix_pba.bar <= 5)
        {
            map_bar(r_msix_pba.bar);
            r_msix_pba.p = g_bar[r_msix_pba.bar] + r_msix_pba.off;
        }
    }
}

/* ---- common config helpers ---- */

static uint64_t c_rd(int off, int w)
{
    return mmio_rd(r_common.p + off, w);
}

static void c_wr(int off, int w, uint64_t v)
{
    mmio_wr(r_common.p + off, w, v);
}

static uint64_t g_slowest_ns;
static const char *g_slowest_what = "";

/* A read that must answer promptly: over o_maxlat_ms is a failure. */
static uint64_t timed_rd(uint8_t *p, int w, const char *what)
{
    uint64_t t0 = now_ns();
    uint64_t v = mmio_rd(p, w);
    uint64_t dt = now_ns() - t0;
    if (dt > g_slowest_ns)
    {
        g_slowest_ns = dt;
        g_slowest_what = what;
    }
    if (dt > (uint64_t)o_maxlat_ms * 1000000ull)
    {
        fail("%s read took %" PRIu64 " ms", what, dt / 1000000);
    }
    return v;
}

static uint8_t status_rd(void)
{
    return (uint8_t)timed_rd(r_common.p + C_STATUS, 1, "device_status");
}

static void status_wr(uint8_t v)
{
    c_wr(C_STATUS, 1, v);
}

static uint8_t isr_rd(void)
{
    return (uint8_t)timed_rd(r_isr.p, 1, "ISR");
}

static void sleep_us(long us)
{
    struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&t, NULL);
}

/* Writes 0 and waits for the device to read 0. */
static int dev_reset(int timeout_ms)
{
    status_wr(0);
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;)
    {
        if (status_rd() == 0)
        {
            return 0;
        }
        if (now_ns() > end)
        {
            return -1;
        }
        sleep_us(200);
    }
}

static uint64_t read_dev_features(void)
{
    c_wr(C_DFSEL, 4, 0);
    uint64_t lo = c_rd(C_DF, 4);
    c_wr(C_DFSEL, 4, 1);
    uint64_t hi = c_rd(C_DF, 4);
    return lo | hi << 32;
}

static void write_drv_features(uint64_t f)
{
    c_wr(C_GFSEL, 4, 0);
    c_wr(C_GF, 4, (uint32_t)f);
    c_wr(C_GFSEL, 4, 1);
    c_wr(C_GF, 4, (uint32_t)(f >> 32));
}

static void set_qaddr(int off, uint64_t a)
{
    c_wr(off, 4, (uint32_t)a);
    c_wr(off + 4, 4, (uint32_t)(a >> 32));
}

static uint8_t *notify_ptr(int q)
{
    uint64_t o = r_notify.off + (uint64_t)g_qnoff[q < 64 ? q : 63] * g_notify_mult;
    if (q >= g_numq)
    {
        o = r_notify.off + (uint64_t)q * (g_notify_mult ? g_notify_mult : 4);
    }
    if (o + 8 > g_bar_len[r_notify.bar])
    {
        o = r_notify.off;
    }
    return g_bar[r_notify.bar] + o;
}

static void kick(int q)
{
    __sync_synchronize();
    mmio_wr(notify_ptr(q), 2, (uint16_t)q);
}

/* ---- guest-physical memory: own locked pages ---- */

static int g_pagemap = -1;

static uint64_t va_to_pa(const void *va)
{
    uint64_t e = 0;
    off_t off = (off_t)((uintptr_t)va / PAGE) * 8;
    if (pread(g_pagemap, &e, 8, off) != 8 || !(e & (1ull << 63)))
    {
        die_setup("pagemap: no frame for %p", va);
    }
    uint64_t pfn = e & ((1ull << 55) - 1);
    if (!pfn)
    {
        die_setup("pagemap shows PFN 0 (not root?)");
    }
    return pfn * PAGE + ((uintptr_t)va & (PAGE - 1));
}

static struct page alloc_page(void)
{
    static uint8_t *pool;
    static int left;
    if (!left)
    {
        pool = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (pool == MAP_FAILED || mlock(pool, 64 * PAGE))
        {
            die_setup("cannot lock pages: %s", strerror(errno));
        }
        left = 64;
    }
    struct page p = { pool, 0 };
    memset(pool, 0, PAGE);
    p.pa = va_to_pa(pool);
    pool += PAGE;
    left--;
    return p;
}

/* The longest physically contiguous run inside a locked, transparent-huge-page backed area. */
static struct page g_contig;
static uint32_t g_contig_len = PAGE;

static void alloc_contig(void)
{
    size_t sz = 4u << 20;
    uint8_t *raw = mmap(NULL, sz * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
    {
        die_setup("mmap: %s", strerror(errno));
    }
    uint8_t *a = (uint8_t *)(((uintptr_t)raw + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
    madvise(a, sz, MADV_HUGEPAGE);
    memset(a, 0x5a, sz);
    if (mlock(a, sz))
    {
        die_setup("mlock: %s", strerror(errno));
    }
    size_t best = 0, best_len = 1, run = 0, run_len = 1;
    uint64_t prev = va_to_pa(a);
    for (size_t i = 1; i < sz / PAGE; i++)
    {
        uint64_t pa = va_to_pa(a + i * PAGE);
        if (pa == prev + PAGE)
        {
            run_len++;
        }
        else
        {
            run = i;
            run_len = 1;
        }
        if (run_len > best_len)
        {
            best_len = run_len;
            best = run;
        }
        prev = pa;
    }
    g_contig.va = a + best * PAGE;
    g_contig.pa = va_to_pa(g_contig.va);
    g_contig_len = (uint32_t)(best_len * PAGE);
    if (g_contig_len > (1u << 20))
    {
        g_contig_len = 1u << 20;
    }
}

/* ---- address classes ---- */

static uint64_t g_void[16];
static int g_nvoid;
static uint64_t g_void_high[8]; /* VOID at or above 2^40: any length stays in nothing */
static int g_nvoid_high;
static uint64_t g_mmio[8];
static int g_nmmio;
static uint64_t g_top;  /* the highest address /proc/iomem names (RAM or device) */
static char g_top_name[96];

struct iomem_range
{
    uint64_t s, e;
    int pci_window;
};

static struct iomem_range g_iomem[256];
static int g_niomem;

static void read_iomem(void)
{
    FILE *f = fopen("/proc/iomem", "r");
    if (!f)
    {
        die_setup("/proc/iomem: %s", strerror(errno));
    }
    char line[256];
    while (fgets(line, sizeof line, f) && g_niomem < 256)
    {
        unsigned long long s, e;
        char *p = line;
        while (*p == ' ')
        {
            p++;
        }
        if (sscanf(p, "%llx-%llx", &s, &e) != 2)
        {
            continue;
        }
        if (s == 0 && e == 0)
        {
            die_setup("/proc/iomem shows zeros: run as root");
        }
        g_iomem[g_niomem++] = (struct iomem_range){ s, e, strstr(p, "PCI Bus") != NULL };
        /* a bridge's window is not a device: only what sits in it (RAM, BARs) counts; nor is a reserved
           range above 4 GiB (QEMU reserves AMD's HyperTransport hole below 1 TiB there) */
        int reserved_high = s >= (1ull << 32) && strstr(p, ": Reserved") != NULL;
        if (e > g_top && !g_iomem[g_niomem - 1].pci_window && !reserved_high)
        {
            g_top = e;
            snprintf(g_top_name, sizeof g_top_name, "%.*s", (int)strcspn(p, "\n"), p);
        }
    }
    fclose(f);
}

static int in_iomem(uint64_t a, uint64_t len)
{
    for (int i = 0; i < g_niomem; i++)
    {
        if (!g_iomem[i].pci_window && a <= g_iomem[i].e && a + len - 1 >= g_iomem[i].s)
        {
            return 1;
        }
    }
    return 0;
}

static void pick_addresses(void)
{
    read_iomem();
    static const uint64_t low[] = { 0x80000000ull, 0xa0000000ull, 0xb0001000ull, 0xd0000000ull, 0xe0001000ull, 0xf0002000ull };
    for (size_t i = 0; i < sizeof low / sizeof low[0]; i++)
    {
        if (!in_iomem(low[i], 0x10000))
        {
            g_void[g_nvoid++] = low[i];
        }
    }
    uint64_t top_ram = 0;
    for (int i = 0; i < g_niomem; i++)
    {
        if (g_iomem[i].e < 0xc0000000ull && g_iomem[i].e > top_ram && !g_iomem[i].pci_window)
        {
            top_ram = g_iomem[i].e;
        }
    }
    uint64_t above = ((top_ram + 1) + 0x1000000ull) & ~0xfffull;
    if (above < 0xf0000000ull && !in_iomem(above, 0x10000))
    {
        g_void[g_nvoid++] = above;
    }
    static const uint64_t high[] = { 1ull << 40, 1ull << 47, 1ull << 52, 1ull << 62, 1ull << 63, 0x7ffffffffffff000ull };
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++)
    {
        if (high[i] > g_top + (1ull << 32))
        {
            g_void_high[g_nvoid_high++] = high[i];
            g_void[g_nvoid++] = high[i];
        }
    }
    if (!g_nvoid_high || g_top >= (1ull << 39))
    {
        die_setup("/proc/iomem names addresses up to 0x%" PRIx64 " (%s): the parked-ring rule needs nothing at 2^39 or above", g_top, g_top_name);
    }
    g_mmio[g_nmmio++] = 0xfec00000ull;
    g_mmio[g_nmmio++] = 0xfee00000ull;
    for (int b = 0; b < 6; b++)
    {
        if (g_bar[b] && g_bar_pa[b])
        {
            g_mmio[g_nmmio++] = g_bar_pa[b];
            if (g_nmmio < 8 && g_bar_len[b] > 0x1000)
            {
                g_mmio[g_nmmio++] = g_bar_pa[b] + 0x1000;
            }
        }
    }
}

/* Any address where a device write lands in nothing, with a length that keeps it there. */
static void void_buf(uint64_t *addr, uint32_t *len)
{
    switch (below(6))
    {
    case 0: /* near 2^64: addr + len wraps to the first page (reserved by Linux) */
    {
        uint64_t k = 1ull << (below(13));
        *addr = 0ull - k;
        *len = (uint32_t)(k + below(0x800));
        return;
    }
    case 1:
    case 2:
        *addr = g_void_high[below((uint64_t)g_nvoid_high)] + below(0x1000);
        *len = chance(2) ? 0xffffffffu : (uint32_t)rnd();
        return;
    default:
        /* holes below 4 GiB keep short lengths: a long one could run into the IOAPIC or the MSI window */
        *addr = g_void[below((uint64_t)g_nvoid)] + below(0x100);
        *len = *addr >= (1ull << 40) ? (uint32_t)rnd() : (uint32_t)below(PAGE) + 1;
        return;
    }
}

static uint32_t small_len(uint32_t room)
{
    switch (below(6))
    {
    case 0: return 0;
    case 1: return room ? 1 : 0;
    case 2: return room;
    case 3: return room >= 16 ? 16 : room;
    default: return (uint32_t)below((uint64_t)room + 1);
    }
}

/* ---- pages: clean rings, fuzz rings, pools ---- */

static struct page pg_cdesc, pg_cavail, pg_cused, pg_cbuf;   /* the health check's rings and buffers */
static struct page pg_desc, pg_avail, pg_used;                /* the fuzzed queue's rings */
static struct page pg_tables[6];                              /* indirect tables */
static struct page pg_rd[4], pg_wr[4], pg_hdr;                /* readable / writable / blk header pools */
static struct page pg_crxdesc, pg_crxavail, pg_crxused, pg_crx[2]; /* net: the health check's receiveq */
static struct page pg_rxdesc, pg_rxavail, pg_rxused;          /* net: the fuzzed receiveq's rings */
static struct page pg_vnet, pg_frame[4];                      /* net: vnet headers, frames (read-only) */

static int g_is_blk, g_is_rng, g_is_console, g_is_net;
static uint64_t g_capacity; /* blk: sectors */
static uint8_t g_sector0[512];
static int g_have_sector0;

static void fill_pools(void)
{
    for (int i = 0; i < 4; i++)
    {
        memset(pg_rd[i].va, 0xa5, PAGE);
        if (g_is_console)
        {
            for (unsigned j = 0; j < PAGE; j++)
            {
                pg_rd[i].va[j] = (uint8_t)(j % 64 == 63 ? '\n' : 'a' + j % 26);
            }
        }
    }
}

/* blk headers: 16 bytes each, ioprio's top bit set so no 8-byte window at a header start reads as a small
   sector; writing request types never aim below sector 64 (the host's pattern lives in sector 0). */
static void fill_headers(void)
{
    static const uint32_t types[] = { 0, 1, 4, 8, 11, 13, 0, 0 };
    for (unsigned i = 0; i < PAGE / 16; i++)
    {
        uint8_t *h = pg_hdr.va + i * 16;
        uint32_t type = chance(8) ? (uint32_t)rnd() : types[below(8)];
        uint32_t prio = 0x80000000u | (uint32_t)rnd();
        uint64_t sector;
        switch (below(6))
        {
        case 0: sector = 0; break;
        case 1: sector = g_capacity ? g_capacity - 1 : 0; break;
        case 2: sector = g_capacity; break;
        case 3: sector = rnd(); break;
        case 4: sector = 0ull - below(16); break;
        default: sector = below(g_capacity ? g_capacity : 1024); break;
        }
        if (type != 0 && sector < 64)
        {
            sector += 64;
        }
        memcpy(h, &type, 4);
        memcpy(h + 4, &prio, 4);
        memcpy(h + 8, &sector, 8);
    }
}

static void gen_desc(struct vdesc *d, uint32_t qsize, int depth);

/* An indirect table in an own page: every entry is itself a safe descriptor. */
static void fill_table(struct page *t, int depth)
{
    struct vdesc *d = (struct vdesc *)t->va;
    for (unsigned i = 0; i < PAGE / 16; i++)
    {
        gen_desc(&d[i], PAGE / 16, depth + 1);
    }
}

/* One safe but hostile descriptor. depth limits nested-indirect generation. */
static void gen_desc(struct vdesc *d, uint32_t qsize, int depth)
{
    uint16_t flags = 0;
    if (chance(2))
    {
        flags |= D_NEXT;
    }
    if (chance(2))
    {
        flags |= D_WRITE;
    }
    d->next = (uint16_t)(chance(8) ? rnd() : below(qsize + (chance(8) ? 8 : 0)));
    if (chance(10) && depth < 2)
    {
        flags |= D_INDIRECT;
        if (!chance(4))
        {
            flags &= (uint16_t)~D_NEXT;
        }
        if (chance(5))
        {
            void_buf(&d->addr, &d->len);
        }
        else
        {
            struct page *t = &pg_tables[below(6)];
            uint32_t off = chance(4) ? (uint32_t)below(PAGE / 16) * 16 : 0;
            flags &= (uint16_t)~D_WRITE; /* a device that ignored INDIRECT would write our table */
            d->addr = t->pa + off;
            switch (below(5))
            {
            case 0: d->len = 0; break;
            case 1: d->len = (uint32_t)below(PAGE - off) | 1; break;
            default: d->len = ((uint32_t)below((PAGE - off) / 16) + 1) * 16; break;
            }
            if (d->len > PAGE - off)
            {
                d->len = PAGE - off;
            }
        }
        d->flags = flags;
        return;
    }
    d->flags = (uint16_t)(flags | (chance(32) ? (rnd() & 0xfff8) : 0));
    int writable = (d->flags & D_WRITE) != 0;
    if (chance(5))
    {
        void_buf(&d->addr, &d->len);
        return;
    }
    if (!writable && !g_is_blk && chance(6))
    {
        d->addr = g_mmio[below((uint64_t)g_nmmio)] + below(0x40) * 4;
        d->len = (uint32_t)below(0x100) + 1;
        return;
    }
    if (!writable && g_is_blk && chance(3))
    {
        d->addr = pg_hdr.pa + below(PAGE / 16) * 16;
        d->len = chance(4) ? (uint32_t)below(17) : 16;
        return;
    }
    struct page *p = writable ? &pg_wr[below(4)] : &pg_rd[below(4)];
    uint32_t off = (uint32_t)below(PAGE);
    d->addr = p->pa + off;
    d->len = small_len(PAGE - off);
}

/* ---- clean bring-up and one correct request (the health check) ---- */

static uint16_t pow2_floor(uint32_t v)
{
    uint16_t p = 1;
    while ((uint32_t)p * 2 <= v && p < 32768)
    {
        p *= 2;
    }
    return p;
}

static int health_queue(void)
{
    return g_is_console || g_is_net ? 1 : 0;
}

static void net_clean_rx(uint16_t qs);
static const char *net_rx_ready(uint16_t qs);

/* One queue with clean rings in own pages, at the largest power-of-two size up to 256. */
static const char *clean_queue(int q, struct page *desc, struct page *avail, struct page *used, uint16_t *qs_out)
{
    static char why[160];
    c_wr(C_QSEL, 2, (uint16_t)q);
    uint16_t max = (uint16_t)c_rd(C_QSIZE, 2);
    if (!max)
    {
        snprintf(why, sizeof why, "queue %d has size 0", q);
        return why;
    }
    uint16_t qs = pow2_floor(max < 256 ? max : 256);
    memset(desc->va, 0, PAGE);
    memset(avail->va, 0, PAGE);
    memset(used->va, 0, PAGE);
    c_wr(C_QSIZE, 2, qs);
    c_wr(C_QMSIX, 2, 0xffff);
    set_qaddr(C_QDESC, desc->pa);
    set_qaddr(C_QAVAIL, avail->pa);
    set_qaddr(C_QUSED, used->pa);
    c_wr(C_QEN, 2, 1);
    if (c_rd(C_QEN, 2) != 1)
    {
        snprintf(why, sizeof why, "queue %d did not enable (size %u)", q, qs);
        return why;
    }
    *qs_out = qs;
    return NULL;
}

static const char *bring_up_clean(int q, uint16_t *qsize_out, uint64_t extra_features)
{
    static char why[160];
    if (dev_reset(2000))
    {
        snprintf(why, sizeof why, "device_status did not read 0 within 2 s of a reset (reads 0x%02x)", status_rd());
        return why;
    }
    status_wr(S_ACK);
    status_wr(S_ACK | S_DRIVER);
    uint64_t f = read_dev_features();
    if (!(f & F_VERSION_1))
    {
        return "device does not offer VERSION_1";
    }
    uint64_t want = F_VERSION_1 | (f & (extra_features | F_ACCESS_PLATFORM));
    write_drv_features(want);
    status_wr(S_ACK | S_DRIVER | S_FEATURES_OK);
    uint8_t s = status_rd();
    if (!(s & S_FEATURES_OK))
    {
        snprintf(why, sizeof why, "FEATURES_OK not kept (status 0x%02x, features 0x%" PRIx64 ")", s, want);
        return why;
    }
    c_wr(C_MSIX, 2, 0xffff);
    uint16_t qs = 0, rqs = 0;
    const char *bad = clean_queue(q, &pg_cdesc, &pg_cavail, &pg_cused, &qs);
    if (!bad && g_is_net && q != 0)
    {
        /* net: receiveq 0 gets a few clean buffers too, never refilled until the next bring-up */
        bad = clean_queue(0, &pg_crxdesc, &pg_crxavail, &pg_crxused, &rqs);
    }
    if (bad)
    {
        return bad;
    }
    if (rqs)
    {
        net_clean_rx(rqs);
    }
    status_wr(S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    s = status_rd();
    if ((s & (S_NEEDS_RESET | S_FAILED)) || !(s & S_DRIVER_OK))
    {
        snprintf(why, sizeof why, "status 0x%02x after DRIVER_OK", s);
        return why;
    }
    if (rqs)
    {
        bad = net_rx_ready(rqs);
        if (bad)
        {
            return bad;
        }
    }
    *qsize_out = qs;
    return NULL;
}

/* Posts descriptor chain `head` on the clean rings and waits for the used ring to advance. */
static const char *clean_submit(int q, uint16_t qs, uint16_t head, uint16_t *avail_idx, uint32_t *used_len, int timeout_ms)
{
    static char why[160];
    volatile uint16_t *avail = (volatile uint16_t *)pg_cavail.va;
    volatile uint16_t *used_idx = (volatile uint16_t *)(pg_cused.va + 2);
    uint16_t before = *used_idx;
    avail[2 + (*avail_idx % qs)] = head;
    __sync_synchronize();
    avail[1] = ++*avail_idx;
    kick(q);
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (*used_idx == before)
    {
        if (now_ns() > end)
        {
            snprintf(why, sizeof why, "no completion within %d ms (status 0x%02x, isr 0x%02x)", timeout_ms, status_rd(), isr_rd());
            return why;
        }
        sleep_us(100);
    }
    __sync_synchronize();
    uint32_t *elem = (uint32_t *)(pg_cused.va + 4 + 8 * (before % qs));
    if (elem[0] != head)
    {
        snprintf(why, sizeof why, "used id %u, expected %u", elem[0], head);
        return why;
    }
    *used_len = elem[1];
    return NULL;
}

/* ---- virtio-net: config, clean receive buffers, frames ---- */

static uint8_t g_mac[6] = { 0x02, 0x00, 0x00, 0x66, 0x7a, 0x01 }; /* the config's MAC once read (F_MAC offered) */
static int g_mac_read;
static uint16_t g_mtu0;
static long g_rx_frames;   /* receiveq used entries seen (health checks and hostile iterations) */
static char g_ifname[32];

static int net_offers(int bit)
{
    return (g_dev_features & NF(bit)) != 0;
}

/* mac, status and mtu, read again while config_generation changes under them */
static void net_config(uint8_t mac[6], uint16_t *status, uint16_t *mtu)
{
    memcpy(mac, g_mac, 6);
    *status = 0;
    *mtu = 0;
    if (!r_device.p)
    {
        return;
    }
    for (int tries = 0; tries < 4; tries++)
    {
        uint8_t gen = (uint8_t)c_rd(C_GEN, 1);
        if (net_offers(N_MAC) && r_device.len >= 6)
        {
            for (int i = 0; i < 6; i++)
            {
                mac[i] = (uint8_t)timed_rd(r_device.p + i, 1, "net config mac");
            }
        }
        if (net_offers(N_STATUS) && r_device.len >= 8)
        {
            *status = (uint16_t)timed_rd(r_device.p + 6, 2, "net config status");
        }
        if (net_offers(N_MTU) && r_device.len >= 12)
        {
            *mtu = (uint16_t)timed_rd(r_device.p + 10, 2, "net config mtu");
        }
        if ((uint8_t)c_rd(C_GEN, 1) == gen)
        {
            return;
        }
    }
}

/* A broadcast ARP request "who has 10.0.2.2, tell 10.0.2.15" from our MAC (60 bytes: padded to the minimum). */
static void net_arp(uint8_t *f)
{
    static const uint8_t arp[] = { 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01 };
    memset(f, 0, 60);
    memset(f, 0xff, 6);
    memcpy(f + 6, g_mac, 6);
    memcpy(f + 12, arp, sizeof arp);
    memcpy(f + 22, g_mac, 6);
    f[28] = 10, f[29] = 0, f[30] = 2, f[31] = 15;
    f[38] = 10, f[39] = 0, f[40] = 2, f[41] = 2;
}

/* Four 2 KiB writable buffers in own pages on the clean receiveq (heads 0..3); no MRG_RXBUF, no GUEST_TSO: enough. */
static void net_clean_rx(uint16_t qs)
{
    struct vdesc *d = (struct vdesc *)pg_crxdesc.va;
    volatile uint16_t *a = (volatile uint16_t *)pg_crxavail.va;
    uint16_t n = qs < 4 ? qs : 4;
    for (uint16_t i = 0; i < n; i++)
    {
        d[i] = (struct vdesc){ pg_crx[i / 2].pa + (i % 2) * NET_RX_BUF, NET_RX_BUF, D_WRITE, 0 };
        a[2 + i] = i;
    }
    __sync_synchronize();
    a[1] = n;
}

static const char *net_rx_ready(uint16_t qs)
{
    (void)qs;
    kick(0);
    return NULL;
}

/* Receive entries on the clean receiveq: counted, and each must name a posted buffer and fit in it. */
static uint16_t g_crx_seen;

static void net_clean_rx_check(const char *when, uint16_t qs, int wait_ms)
{
    volatile uint16_t *uidx = (volatile uint16_t *)(pg_crxused.va + 2);
    uint64_t end = now_ns() + (uint64_t)wait_ms * 1000000ull;
    while (*uidx == g_crx_seen && now_ns() < end)
    {
        sleep_us(1000);
    }
    __sync_synchronize();
    uint16_t u = *uidx;
    uint16_t n = (uint16_t)(u - g_crx_seen);
    if (n > (qs < 4 ? qs : 4))
    {
        fail("health check (%s): receiveq used idx %u with %u buffers posted", when, u, qs < 4 ? qs : 4);
    }
    for (; g_crx_seen != u; g_crx_seen++)
    {
        uint32_t *e = (uint32_t *)(pg_crxused.va + 4 + 8 * (g_crx_seen % qs));
        if (e[0] >= 4 || e[1] > NET_RX_BUF || e[1] < NET_HDR)
        {
            fail("health check (%s): receiveq used id %u len %u (4 buffers of %u bytes)", when, e[0], e[1], NET_RX_BUF);
        }
        g_rx_frames++;
    }
}

/* The net health check: config as at the start, link up, a broadcast ARP request sent in both layouts
   (header and frame in one descriptor, then in two); an answer on the receiveq is counted, never required. */
static void net_health(const char *when, int q, uint16_t qs, uint16_t *aidx)
{
    uint8_t mac[6];
    uint16_t status, mtu;
    net_config(mac, &status, &mtu);
    if (!g_mac_read)
    {
        memcpy(g_mac, mac, 6);
        g_mtu0 = mtu;
        g_mac_read = 1;
    }
    else if (memcmp(mac, g_mac, 6) != 0)
    {
        fail("health check (%s): config MAC %02x:%02x:%02x:%02x:%02x:%02x, was %02x:%02x:%02x:%02x:%02x:%02x", when,
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], g_mac[0], g_mac[1], g_mac[2], g_mac[3], g_mac[4], g_mac[5]);
    }
    else if (mtu != g_mtu0)
    {
        fail("health check (%s): config mtu %u, was %u", when, mtu, g_mtu0);
    }
    if (net_offers(N_STATUS) && !(status & 1))
    {
        fail("health check (%s): config status 0x%04x without LINK_UP", when, status);
    }
    struct vdesc *d = (struct vdesc *)pg_cdesc.va;
    uint8_t *buf = pg_cbuf.va;
    uint32_t len = 0;
    memset(buf, 0, 128);
    net_arp(buf + NET_HDR);
    d[0] = (struct vdesc){ pg_cbuf.pa, NET_HDR + 60, 0, 0 };
    d[1] = (struct vdesc){ pg_cbuf.pa, NET_HDR, D_NEXT, 2 };
    d[2] = (struct vdesc){ pg_cbuf.pa + NET_HDR, 60, 0, 0 };
    g_crx_seen = 0;
    const char *why = clean_submit(q, qs, 0, aidx, &len, 5000);
    if (why)
    {
        fail("health check (%s): net TX of an ARP request: %s", when, why);
    }
    why = clean_submit(q, qs, 1, aidx, &len, 5000);
    if (why)
    {
        fail("health check (%s): net TX of an ARP request in two descriptors: %s", when, why);
    }
    c_wr(C_QSEL, 2, 0);
    net_clean_rx_check(when, (uint16_t)c_rd(C_QSIZE, 2), 100);
}

static void health_check(const char *when)
{
    snprintf(g_phase, sizeof g_phase, "health check (%s)", when);
    uint16_t qs = 0, aidx = 0;
    int q = health_queue();
    const char *why = bring_up_clean(q, &qs, g_is_net ? NF(N_MAC) | NF(N_STATUS) | NF(N_MTU) : 0);
    if (why)
    {
        fail("health check (%s): %s", when, why);
    }
    struct vdesc *d = (struct vdesc *)pg_cdesc.va;
    uint8_t *buf = pg_cbuf.va;
    uint32_t len = 0;
    memset(buf, 0, PAGE);
    if (g_is_blk)
    {
        uint32_t type = 0;
        memcpy(buf, &type, 4);
        buf[600] = 0xff;
        d[0] = (struct vdesc){ pg_cbuf.pa, 16, D_NEXT, 1 };
        d[1] = (struct vdesc){ pg_cbuf.pa + 64, 512, D_NEXT | D_WRITE, 2 };
        d[2] = (struct vdesc){ pg_cbuf.pa + 600, 1, D_WRITE, 0 };
        why = clean_submit(q, qs, 0, &aidx, &len, 5000);
        if (why)
        {
            fail("health check (%s): blk read of sector 0: %s", when, why);
        }
        if (buf[600] != 0)
        {
            fail("health check (%s): blk read of sector 0: status byte %u", when, buf[600]);
        }
        if (len < 1 || len > 513)
        {
            fail("health check (%s): blk read of sector 0: used len %u (expected 1..513)", when, len);
        }
        if (!g_have_sector0)
        {
            memcpy(g_sector0, buf + 64, 512);
            g_have_sector0 = 1;
        }
        else if (memcmp(g_sector0, buf + 64, 512) != 0)
        {
            fail("health check (%s): sector 0 reads differently than at the start", when);
        }
    }
    else if (g_is_rng)
    {
        uint32_t total = 0;
        for (int round = 0; total < 16 && round < 16; round++)
        {
            uint16_t head = (uint16_t)(round % qs);
            d[head] = (struct vdesc){ pg_cbuf.pa + 64 * round, 16 - total, D_WRITE, 0 };
            why = clean_submit(q, qs, head, &aidx, &len, 5000);
            if (why)
            {
                fail("health check (%s): rng 16 bytes: %s", when, why);
            }
            if (len > 16 - total)
            {
                fail("health check (%s): rng used len %u for a %u-byte buffer", when, len, 16 - total);
            }
            total += len;
        }
        if (total < 16)
        {
            fail("health check (%s): rng gave %u of 16 bytes in 16 requests", when, total);
        }
    }
    else if (g_is_net)
    {
        net_health(when, q, qs, &aidx);
    }
    else
    {
        int n = snprintf((char *)buf, 128, "virtio-fuzz: health %ld seed %" PRIu64 "\n", g_health, o_seed);
        d[0] = (struct vdesc){ pg_cbuf.pa, (uint32_t)n, 0, 0 };
        why = clean_submit(q, qs, 0, &aidx, &len, 5000);
        if (why)
        {
            fail("health check (%s): console TX on queue 1: %s", when, why);
        }
    }
    uint8_t s = status_rd();
    if (s & (S_NEEDS_RESET | S_FAILED))
    {
        fail("health check (%s): status 0x%02x after a correct request", when, s);
    }
    g_health++;
    if (dev_reset(2000))
    {
        fail("health check (%s): device_status did not read 0 within 2 s of the closing reset", when);
    }
}

/* ---- hostile register sequences ---- */

static uint64_t g_high_hi; /* the high dword of the parked queue addresses */

/* Every real queue's ring addresses point at nothing, so a random write of a low dword or a narrow write of a
   high one (with a non-zero byte there) still leaves them pointing at nothing. */
static void park_queues(void)
{
    for (int q = 0; q < g_numq; q++)
    {
        c_wr(C_QSEL, 2, (uint16_t)q);
        set_qaddr(C_QDESC, g_high_hi << 32 | 0x1000);
        set_qaddr(C_QAVAIL, g_high_hi << 32 | 0x2000);
        set_qaddr(C_QUSED, g_high_hi << 32 | 0x3000);
    }
}

static uint8_t g_status_written; /* every bit written since the last reset */

static int common_byte_rule(uint32_t o, uint8_t *b)
{
    if (o == C_STATUS)
    {
        if (*b == 0)
        {
            *b = (uint8_t)(1 + below(255));
        }
        g_status_written |= *b;
        return 1;
    }
    if ((o >= C_QDESC + 4 && o < C_QDESC + 8) || (o >= C_QAVAIL + 4 && o < C_QAVAIL + 8) || (o >= C_QUSED + 4 && o < C_QUSED + 8))
    {
        /* any byte of a high dword at 0x80 or more: a narrow write (zero-extended or merged) keeps the ring
           address at 2^39 or above, where nothing is (checked at setup) */
        *b |= 0x80;
        return 1;
    }
    if (o == C_QRESET || o == C_QRESET + 1)
    {
        *b = 0;
        return 1;
    }
    return 0;
}

/* A random write of width w at BAR offset `off`, with the bytes that land on sensitive common registers fixed. */
static void hostile_write(int bar, uint64_t off, int w)
{
    uint64_t v = rnd();
    if (chance(4))
    {
        v = chance(2) ? 0 : ~0ull;
    }
    if (bar == r_common.bar)
    {
        uint8_t bytes[8];
        memcpy(bytes, &v, 8);
        for (int i = 0; i < w; i++)
        {
            uint64_t a = off + (uint64_t)i;
            if (a >= r_common.off && a < (uint64_t)r_common.off + 0x40)
            {
                common_byte_rule((uint32_t)(a - r_common.off), &bytes[i]);
            }
        }
        memcpy(&v, bytes, 8);
    }
    mmio_wr(g_bar[bar] + off, w, v);
}

static void check_status_subset(const char *after)
{
    uint8_t s = status_rd();
    if (s & (uint8_t)~(g_status_written | S_NEEDS_RESET))
    {
        g_badregs++;
        note("bad-reg: device_status 0x%02x after %s has bits never written (written 0x%02x)", s, after, g_status_written);
    }
}

static void check_read_only(const char *after)
{
    uint16_t nq = (uint16_t)c_rd(C_NUMQ, 2);
    if (nq != g_numq)
    {
        g_badregs++;
        note("bad-reg: num_queues %u after %s (was %d)", nq, after, g_numq);
    }
    uint64_t f = read_dev_features();
    if (f != g_dev_features)
    {
        g_badregs++;
        note("bad-reg: device features 0x%" PRIx64 " after %s (was 0x%" PRIx64 ")", f, after, g_dev_features);
    }
    for (int q = 0; q < g_numq && q < 64; q++)
    {
        c_wr(C_QSEL, 2, (uint16_t)q);
        uint16_t n = (uint16_t)c_rd(C_QNOFF, 2);
        if (n != g_qnoff[q])
        {
            g_badregs++;
            note("bad-reg: queue %d notify_off %u after %s (was %u)", q, n, after, g_qnoff[q]);
        }
    }
    check_status_subset(after);
}

static void fuzz_reset(const char *what)
{
    if (dev_reset(2000))
    {
        fail("%s: device_status did not read 0 within 2 s of a reset (reads 0x%02x)", what, status_rd());
    }
    g_status_written = 0;
    park_queues();
}

/* Every offset of one region at every width: a read, and (mostly) a random write. */
static void sweep_region(struct region *r)
{
    if (!r->p || !r->len)
    {
        return;
    }
    uint32_t len = r->len > 0x400 ? 0x400 : r->len;
    static const int widths[] = { 1, 2, 4, 8 };
    for (uint32_t o = 0; o < len; o++)
    {
        for (int wi = 0; wi < 4; wi++)
        {
            int w = widths[wi];
            uint64_t off = r->off + o;
            if (off + (uint64_t)w > g_bar_len[r->bar])
            {
                continue;
            }
            (void)mmio_rd(g_bar[r->bar] + off, w);
            if (!chance(4))
            {
                hostile_write(r->bar, off, w);
            }
        }
    }
}

static void status_sequence(void)
{
    static const uint8_t seqs[][6] = {
        { S_DRIVER_OK },
        { S_ACK, S_ACK | S_DRIVER, S_ACK | S_DRIVER | S_DRIVER_OK },
        { S_ACK, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK },
        { S_ACK | S_DRIVER | S_FEATURES_OK, S_ACK },
        { S_FAILED, S_FAILED | S_DRIVER_OK },
        { S_NEEDS_RESET, S_ACK | S_NEEDS_RESET },
        { S_ACK, S_ACK | S_DRIVER, S_ACK | S_DRIVER | S_FEATURES_OK, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK, S_ACK },
    };
    int which = (int)below(sizeof seqs / sizeof seqs[0] + 1);
    fuzz_reset("status sequence");
    if (chance(2))
    {
        write_drv_features(chance(2) ? g_dev_features : rnd());
    }
    for (int i = 0; i < 6; i++)
    {
        uint8_t v = which < (int)(sizeof seqs / sizeof seqs[0]) ? seqs[which][i] : (uint8_t)(1 + below(255));
        if (!v)
        {
            break;
        }
        status_wr(v);
        g_status_written |= v;
        if (chance(3))
        {
            write_drv_features(rnd()); /* features after FEATURES_OK, or junk before */
        }
        if (chance(3))
        {
            kick((int)below((uint64_t)g_numq));
        }
    }
    check_status_subset("a status sequence");
}

static void queue_select_abuse(void)
{
    fuzz_reset("queue_select abuse");
    status_wr(S_ACK | S_DRIVER);
    write_drv_features(F_VERSION_1);
    status_wr(S_ACK | S_DRIVER | S_FEATURES_OK);
    g_status_written = S_ACK | S_DRIVER | S_FEATURES_OK;
    uint16_t sel = chance(2) ? (uint16_t)(g_numq + below(4)) : (uint16_t)(0xffff - below(4));
    c_wr(C_QSEL, 2, sel);
    /* a device may refuse the select (QEMU keeps the old one above its 1024 queues): then the old queue shows */
    int refused = c_rd(C_QSEL, 2) != sel;
    uint64_t r = c_rd(C_QSIZE, 2) | c_rd(C_QEN, 2) << 16 | c_rd(C_QNOFF, 2) << 32;
    if (r != 0 && !refused)
    {
        g_badregs++;
        note("bad-reg: queue_select %u (of %d) reads size/enable/notify_off 0x%" PRIx64 ", expected 0", sel, g_numq, r);
    }
    c_wr(C_QSIZE, 2, (uint16_t)rnd());
    c_wr(C_QMSIX, 2, (uint16_t)rnd());
    c_wr(C_QDESC, 4, (uint32_t)rnd());
    c_wr(C_QDESC + 4, 4, (uint32_t)rnd() | 0x100);
    c_wr(C_QAVAIL, 4, (uint32_t)rnd());
    c_wr(C_QAVAIL + 4, 4, (uint32_t)rnd() | 0x100);
    c_wr(C_QUSED, 4, (uint32_t)rnd());
    c_wr(C_QUSED + 4, 4, (uint32_t)rnd() | 0x100);
    c_wr(C_QEN, 2, 1);
    status_wr(S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    g_status_written |= S_DRIVER_OK;
    static const int widths[] = { 1, 2, 4, 8 };
    for (int i = 0; i < 8; i++)
    {
        mmio_wr(notify_ptr(g_numq + (int)below(8)), widths[below(4)], rnd());
        mmio_wr(notify_ptr((int)below((uint64_t)g_numq)), widths[below(4)], rnd());
    }
    c_wr(C_QSEL, 2, sel);
    r = c_rd(C_QSIZE, 2) | c_rd(C_QEN, 2) << 16;
    if (r != 0 && !refused)
    {
        g_badregs++;
        note("bad-reg: queue_select %u (of %d) reads size/enable 0x%" PRIx64 " after writes", sel, g_numq, r);
    }
}

static void fuzz_regs_iter(void)
{
    snprintf(g_phase, sizeof g_phase, "regs iteration %ld", g_iter);
    switch (below(6))
    {
    case 0:
        status_sequence();
        break;
    case 1:
        queue_select_abuse();
        break;
    default:
    {
        fuzz_reset("register sweep");
        /* sometimes sweep a device that is part way up */
        if (chance(2))
        {
            status_wr(S_ACK | S_DRIVER);
            write_drv_features(g_dev_features & (F_VERSION_1 | F_INDIRECT | rnd()));
            status_wr(S_ACK | S_DRIVER | S_FEATURES_OK);
            g_status_written = S_ACK | S_DRIVER | S_FEATURES_OK;
        }
        struct region *all[] = { &r_common, &r_notify, &r_isr, &r_device, &r_msix_table, &r_msix_pba };
        struct region *r = all[below(6)];
        snprintf(g_phase, sizeof g_phase, "regs iteration %ld: sweep of %s", g_iter, r->name ? r->name : "(none)");
        sweep_region(r);
        break;
    }
    }
    (void)isr_rd();
    check_read_only("register writes");
}

/* ---- hostile virtqueues ---- */

static void fuzz_queues_iter(void)
{
    snprintf(g_phase, sizeof g_phase, "queues iteration %ld", g_iter);
    fuzz_reset("queues iteration");
    fill_pools();
    if (g_is_blk)
    {
        fill_headers();
    }
    status_wr(S_ACK);
    status_wr(S_ACK | S_DRIVER);
    uint64_t feat = F_VERSION_1 | (g_dev_features & rnd());
    if (chance(16))
    {
        feat &= ~F_VERSION_1;
    }
    if (chance(16))
    {
        feat |= 1ull << below(64);
    }
    write_drv_features(feat);
    g_status_written = S_ACK | S_DRIVER;
    if (!chance(16))
    {
        status_wr(S_ACK | S_DRIVER | S_FEATURES_OK);
        g_status_written |= S_FEATURES_OK;
    }
    c_wr(C_MSIX, 2, chance(4) ? (uint16_t)rnd() : 0xffff);

    int q = chance(12) ? g_numq + (int)below(3) : (int)below((uint64_t)g_numq);
    if (g_is_console && chance(2))
    {
        q = (int)below(2);
    }
    if (g_is_net && o_no_short && q < 2)
    {
        q = g_numq > 2 ? 2 : g_numq; /* generic chains may be shorter than a vnet header: the control queue or none */
    }
    uint16_t max = q < g_numq && q < 64 ? g_qmax[q] : 0;
    uint16_t cap = max < 256 ? max : 256;
    uint16_t qs;
    switch (below(6))
    {
    case 0: qs = 1; break;
    case 1: qs = (uint16_t)(below(cap ? cap : 1) + 1); break; /* often not a power of two */
    default: qs = pow2_floor(cap ? cap : 1); break;
    }

    /* Ring addresses: own pages, or where a bad ring cannot steer a write (see the header comment). */
    uint64_t desc = pg_desc.pa, avail = pg_avail.pa, used = pg_used.pa;
    int bad_rings = 0;
    uint32_t dummy;
    if (chance(8))
    {
        void_buf(&desc, &dummy);
        bad_rings = 1;
    }
    if (chance(8))
    {
        if (chance(2))
        {
            void_buf(&avail, &dummy);
        }
        else
        {
            avail = g_mmio[below((uint64_t)g_nmmio)];
        }
    }
    if (chance(8))
    {
        void_buf(&used, &dummy);
    }
    if (bad_rings && chance(4))
    {
        desc |= 1 + below(15); /* misaligned (never our own table: its entries would be read shifted) */
    }
    if (bad_rings && chance(2))
    {
        qs = (uint16_t)(chance(2) ? 0xffff : rnd()); /* large only where the table is not ours */
    }

    /* Every descriptor in the table is safe; the chains are hostile. */
    for (int t = 0; t < 6; t++)
    {
        fill_table(&pg_tables[t], 0);
    }
    struct vdesc *d = (struct vdesc *)pg_desc.va;
    for (unsigned i = 0; i < PAGE / 16; i++)
    {
        gen_desc(&d[i], qs, 0);
    }
    uint16_t tsize = qs <= 256 ? qs : 256;
    /* A few plausible requests, each bent in one way. */
    for (int k = 0; k < 4 && tsize >= 4; k++)
    {
        uint16_t h = (uint16_t)below(tsize - 2);
        if (g_is_blk)
        {
            d[h] = (struct vdesc){ pg_hdr.pa + below(PAGE / 16) * 16, 16, D_NEXT, (uint16_t)(h + 1) };
            uint32_t off = (uint32_t)below(8) * 512;
            d[h + 1] = (struct vdesc){ pg_wr[below(4)].pa + off, (uint32_t)(PAGE - off), D_NEXT | D_WRITE, (uint16_t)(h + 2) };
            d[h + 2] = (struct vdesc){ pg_wr[below(4)].pa + below(PAGE), 1, D_WRITE, 0 };
        }
        else
        {
            uint16_t w = ((g_is_console || g_is_net) && q == 1) ? 0 : D_WRITE;
            struct page *p = w ? &pg_wr[below(4)] : &pg_rd[below(4)];
            d[h] = (struct vdesc){ p->pa, (uint32_t)below(PAGE) + 1, w, 0 };
        }
        switch (below(8))
        {
        case 0: d[h + 1].next = h; d[h + 1].flags |= D_NEXT; break;               /* loop */
        case 1: d[h].next = (uint16_t)(tsize + below(100)); d[h].flags |= D_NEXT; break; /* next out of range */
        case 2: d[h].len = 0; break;
        case 3: void_buf(&d[h + (g_is_blk ? 1 : 0)].addr, &d[h + (g_is_blk ? 1 : 0)].len); break;
        case 4: d[h].flags = (uint16_t)((d[h].flags & ~D_WRITE) | D_INDIRECT | D_NEXT); d[h].addr = pg_tables[0].pa; d[h].len = 0x1ff; break;
        default: break;
        }
    }
    if (chance(4))
    {
        /* a long chain that loops back on itself through the whole table */
        for (unsigned i = 0; i < tsize; i++)
        {
            d[i].flags |= D_NEXT;
            d[i].next = (uint16_t)((i + 1) % tsize);
        }
    }

    volatile uint16_t *a = (volatile uint16_t *)pg_avail.va;
    memset(pg_avail.va, 0, PAGE);
    memset(pg_used.va, 0, PAGE);
    uint16_t n = (uint16_t)(1 + below(tsize ? tsize : 1));
    for (uint16_t i = 0; i < n && 2u + i < PAGE / 2; i++)
    {
        a[2 + i] = (uint16_t)(chance(10) ? tsize + below(1000) : below(tsize ? tsize : 1));
    }
    a[0] = (uint16_t)(chance(8) ? rnd() : 0);
    uint16_t idx;
    switch (below(8))
    {
    case 0: idx = (uint16_t)(n + tsize + below(1000)); break; /* far ahead */
    case 1: idx = (uint16_t)rnd(); break;
    case 2: idx = 0xffff; break;
    default: idx = n; break;
    }

    c_wr(C_QSEL, 2, (uint16_t)q);
    c_wr(C_QSIZE, 2, qs);
    uint16_t got = (uint16_t)c_rd(C_QSIZE, 2);
    if (q < g_numq && got != qs && got > 256 && !bad_rings)
    {
        /* the device kept a size our one-page table cannot hold: do not enable it */
        note("queue %d keeps size %u after a write of %u", q, got, qs);
        return;
    }
    c_wr(C_QMSIX, 2, chance(4) ? (uint16_t)rnd() : 0xffff);
    set_qaddr(C_QDESC, desc);
    set_qaddr(C_QAVAIL, avail);
    set_qaddr(C_QUSED, used);
    int driver_ok_first = chance(8);
    if (driver_ok_first)
    {
        status_wr(S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        g_status_written |= S_DRIVER_OK | S_FEATURES_OK;
    }
    if (!chance(16))
    {
        c_wr(C_QEN, 2, chance(16) ? (uint16_t)rnd() : 1);
    }
    if (!driver_ok_first && !chance(16))
    {
        status_wr((uint8_t)(g_status_written | S_DRIVER_OK));
        g_status_written |= S_DRIVER_OK;
    }
    __sync_synchronize();
    a[1] = idx;
    static const int widths[] = { 1, 2, 4, 8 };
    int kicks = 1 + (int)below(3);
    for (int k = 0; k < kicks; k++)
    {
        int kq = chance(6) ? (int)below((uint64_t)g_numq + 4) : q;
        __sync_synchronize();
        mmio_wr(notify_ptr(kq), widths[below(4)], chance(4) ? rnd() : (uint64_t)kq);
    }
    volatile uint16_t *uidx = (volatile uint16_t *)(pg_used.va + 2);
    uint64_t end = now_ns() + (uint64_t)o_wait_ms * 1000000ull;
    /* the wait draws a timing-dependent number of values: the next iteration starts from a fixed point */
    uint64_t resume = rnd();
    while (now_ns() < end)
    {
        (void)status_rd();
        if (chance(4))
        {
            /* rewrite descriptors while the device may be reading them (still safe ones) */
            gen_desc(&d[below(tsize ? tsize : 1)], qs, 0);
        }
        sleep_us(1000);
    }
    g_rng = resume;
    if (used == pg_used.pa)
    {
        uint16_t u = *uidx;
        if (u)
        {
            g_completed += u;
        }
    }
    (void)isr_rd();
    check_status_subset("hostile queues");
}

/* ---- hostile virtio-net queues ---- */

/* Read-only pools for the hostile net queues: header slots (16 bytes; slot 0 clean) and frames. pg_frame[0]
   holds a clean header then the ARP request; [1] an IPv4/TCP frame, [2] an IPv6/UDP frame, [3] random bytes. */
static uint8_t g_net_ro_copy[9][PAGE];

static struct page *net_ro_page(int i)
{
    return i < 4 ? &pg_rd[i] : i == 4 ? &pg_vnet : &pg_frame[i - 5];
}

static uint16_t net_pick16(void)
{
    static const uint16_t v[] = { 0, 1, 6, 14, 16, 34, 54, 59, 60, 61, 1500, 1513, 1514, 4095, 4096, 9000, 65535, 65534 };
    switch (below(4))
    {
    case 0: return (uint16_t)rnd();
    case 1: return (uint16_t)below(128);
    default: return v[below(sizeof v / sizeof v[0])];
    }
}

static void net_fill_pools(void)
{
    memset(pg_vnet.va, 0, PAGE);
    static const uint8_t gso[] = { 0, 1, 3, 4, 5, 0x80, 0x81, 0x83, 0x84 };
    for (unsigned i = 1; i < PAGE / 16; i++)
    {
        uint8_t *h = pg_vnet.va + 16 * i;
        h[0] = (uint8_t)(chance(4) ? rnd() : chance(2) ? 1 : 0); /* NEEDS_CSUM, DATA_VALID, RSC_INFO, junk */
        h[1] = chance(6) ? (uint8_t)rnd() : gso[below(sizeof gso)];
        for (int f = 0; f < 5; f++)
        {
            uint16_t v = f == 4 ? (uint16_t)(chance(2) ? 0 : net_pick16()) : net_pick16();
            memcpy(h + 2 + 2 * f, &v, 2);
        }
    }
    memset(pg_frame[0].va, 0, PAGE);
    net_arp(pg_frame[0].va + NET_HDR);
    for (unsigned j = 128; j < PAGE; j++)
    {
        pg_frame[0].va[j] = (uint8_t)j;
    }
    static const uint8_t peer[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    for (int k = 1; k < 3; k++)
    {
        uint8_t *f = pg_frame[k].va;
        for (unsigned j = 0; j < PAGE; j++)
        {
            f[j] = (uint8_t)(j * 7 + k);
        }
        memcpy(f, peer, 6);
        memcpy(f + 6, g_mac, 6);
        if (k == 1)
        {
            static const uint8_t ip4[] = { 0x08, 0x00, 0x45, 0x00, 0x05, 0xdc, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
                10, 0, 2, 15, 192, 0, 2, 1, 0x30, 0x39, 0x00, 0x09, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0x10, 0x00, 0, 0, 0, 0 };
            memcpy(f + 12, ip4, sizeof ip4);
        }
        else
        {
            static const uint8_t ip6[] = { 0x86, 0xdd, 0x60, 0, 0, 0, 0x05, 0xb4, 17, 64 };
            memcpy(f + 12, ip6, sizeof ip6);
            memset(f + 22, 0, 32);
            f[22] = 0xfe, f[23] = 0x80, f[37] = 1, f[38] = 0xfe, f[39] = 0x80, f[53] = 2;
            f[54] = 0x30, f[55] = 0x39, f[56] = 0, f[57] = 9, f[58] = 0x05, f[59] = 0xb4, f[60] = 0, f[61] = 0;
        }
    }
    for (unsigned j = 0; j < PAGE; j++)
    {
        pg_frame[3].va[j] = (uint8_t)rnd();
    }
    for (int i = 0; i < 9; i++)
    {
        memcpy(g_net_ro_copy[i], net_ro_page(i)->va, PAGE);
    }
}

/* A chain being built in a descriptor table (a ring's or an indirect one) from its next free entry. */
struct nchain
{
    struct vdesc *t;
    unsigned cap, cur;
    int head, last;
    uint64_t wlen; /* device-writable bytes */
    uint64_t rlen; /* device-readable bytes (~0: unknown) */
};

static void nc_begin(struct nchain *c)
{
    c->head = -1;
    c->last = -1;
    c->wlen = 0;
    c->rlen = 0;
}

static int nc_add(struct nchain *c, uint64_t addr, uint32_t len, uint16_t flags)
{
    if (c->cur >= c->cap)
    {
        return -1;
    }
    unsigned i = c->cur++;
    c->t[i] = (struct vdesc){ addr, len, flags, 0 };
    if (c->last >= 0)
    {
        c->t[c->last].flags |= D_NEXT;
        c->t[c->last].next = (uint16_t)i;
    }
    else
    {
        c->head = (int)i;
    }
    c->last = (int)i;
    if (flags & D_WRITE)
    {
        c->wlen += len;
    }
    else if (c->rlen != ~0ull)
    {
        c->rlen += len;
    }
    return 0;
}

static int g_net_tables_used;
/* This iteration keeps every chain and ring legal for virtio (only the frames, vnet headers and feature subsets
   are hostile), so a device that stops at the first ring-level error (QEMU) still parses many headers. */
static int g_net_valid;

/* The dependencies of the spec's 5.1.3.1 kept: what needs a missing feature is dropped. */
static uint64_t net_fix_deps(uint64_t f)
{
    if (!(f & NF(N_GUEST_CSUM)))
    {
        f &= ~(NF(N_GUEST_TSO4) | NF(N_GUEST_TSO6) | NF(N_GUEST_UFO));
    }
    if (!(f & (NF(N_GUEST_TSO4) | NF(N_GUEST_TSO6))))
    {
        f &= ~NF(N_GUEST_ECN);
    }
    if (!(f & NF(N_CSUM)))
    {
        f &= ~(NF(N_HOST_TSO4) | NF(N_HOST_TSO6) | NF(N_HOST_UFO));
    }
    if (!(f & (NF(N_HOST_TSO4) | NF(N_HOST_TSO6))))
    {
        f &= ~NF(N_HOST_ECN);
    }
    if (!(f & NF(N_CTRL_VQ)))
    {
        f &= ~(NF(18) | NF(19) | NF(21) | NF(N_MQ) | NF(23) | NF(60));
    }
    return f;
}

/* An indirect table of its own for the rest of a chain, or NULL when all six are taken. */
static struct page *net_table(struct nchain *tc)
{
    if (g_net_tables_used >= 6)
    {
        return NULL;
    }
    struct page *t = &pg_tables[g_net_tables_used++];
    memset(t->va, 0, PAGE);
    *tc = (struct nchain){ (struct vdesc *)t->va, PAGE / 16, 0, -1, -1, 0, 0 };
    return t;
}

/* Ends an indirect chain: one INDIRECT descriptor in the ring (rarely with WRITE or NEXT set as well, or a bad length). */
static void nc_indirect(struct nchain *ring, struct page *t, struct nchain *tc)
{
    uint32_t len = tc->cur * 16;
    uint16_t flags = D_INDIRECT;
    switch (g_net_valid ? 3 : below(16))
    {
    case 0: flags |= D_WRITE; break;
    case 1: len = 0; break;
    case 2: len = len ? len - 1 : 8; break;
    default: break;
    }
    uint64_t r = ring->rlen;
    nc_add(ring, t->pa, len, flags);
    ring->wlen += tc->wlen;
    ring->rlen = r == ~0ull || tc->rlen == ~0ull ? ~0ull : r + tc->rlen;
}

/* A piece of a frame: a read-only pool page (most often a frame page), with any offset and length. */
static void net_frame_piece(struct nchain *c)
{
    if (!g_net_valid && chance(10))
    {
        uint64_t a;
        uint32_t l;
        if (chance(2))
        {
            void_buf(&a, &l);
        }
        else
        {
            a = g_mmio[below((uint64_t)g_nmmio)] + below(0x40) * 4;
            l = (uint32_t)below(0x100) + 1;
        }
        nc_add(c, a, l, 0);
        return;
    }
    struct page *p = chance(4) ? &pg_rd[below(4)] : &pg_frame[below(4)];
    uint32_t off = chance(2) ? 0 : (uint32_t)below(PAGE);
    uint32_t len = chance(2) ? PAGE - off : small_len(PAGE - off);
    nc_add(c, p->pa + off, g_net_valid && !len ? 1 : len, 0);
}

/* One hostile transmit chain. */
static void net_tx_chain(struct nchain *c)
{
    uint64_t slot = pg_vnet.pa + 16 * below(PAGE / 16);
    uint64_t clean = pg_vnet.pa;
    unsigned kind = (unsigned)below(13);
    while (g_net_valid && (kind == 6 || kind == 9 || kind == 12))
    {
        kind = (unsigned)below(13);
    }
    switch (kind)
    {
    case 0:
    case 1: /* a correct ARP request: header and frame in one descriptor (an answer comes back on the receiveq) */
        nc_add(c, pg_frame[0].pa, NET_HDR + 60, 0);
        break;
    case 2: /* the same in two */
        nc_add(c, clean, NET_HDR, 0);
        nc_add(c, pg_frame[0].pa + NET_HDR, 60, 0);
        break;
    case 3:
    case 4: /* garbage header (csum/gso fields, flags, gso types never negotiated) over an IPv4/IPv6 frame */
    {
        nc_add(c, slot, NET_HDR, 0);
        nc_add(c, pg_frame[1 + below(2)].pa, (uint32_t)(54 + below(PAGE - 53)), 0);
        for (int n = (int)below(4); n > 0; n--)
        {
            net_frame_piece(c);
        }
        break;
    }
    case 5: /* header only */
        nc_add(c, chance(2) ? clean : slot, NET_HDR, 0);
        break;
    case 6: /* shorter than a header: in one descriptor or two */
    {
        uint32_t a = (uint32_t)below(NET_HDR);
        nc_add(c, slot, a, 0);
        if (chance(2))
        {
            nc_add(c, slot + a, (uint32_t)below(NET_HDR - a), 0);
        }
        break;
    }
    case 7: /* the header split across descriptors, then a frame */
    {
        uint32_t a = 1 + (uint32_t)below(NET_HDR - 1);
        nc_add(c, chance(2) ? clean : slot, a, 0);
        nc_add(c, (chance(2) ? clean : slot) + a, NET_HDR - a, 0);
        net_frame_piece(c);
        break;
    }
    case 8: /* a frame over 64 KiB: 17..250 pages, through an indirect table when one is left */
    {
        struct nchain tc;
        struct page *t = chance(4) ? NULL : net_table(&tc);
        struct nchain *w = t ? &tc : c;
        int n = 17 + (int)below(chance(4) ? 234 : 16);
        nc_add(w, chance(2) ? clean : slot, NET_HDR, 0);
        nc_add(w, pg_frame[1 + below(2)].pa, PAGE, 0);
        for (int i = 1; i < n; i++)
        {
            if (nc_add(w, pg_frame[below(4)].pa, PAGE, 0))
            {
                break;
            }
        }
        if (t)
        {
            nc_indirect(c, t, &tc);
        }
        break;
    }
    case 9: /* writable descriptors on the transmitq */
        nc_add(c, slot, NET_HDR, chance(3) ? D_WRITE : 0);
        nc_add(c, pg_wr[below(4)].pa, (uint32_t)below(PAGE) + 1, D_WRITE);
        if (chance(2))
        {
            net_frame_piece(c);
        }
        break;
    case 10: /* oversize without GSO: a jumbo frame in a few pages */
        nc_add(c, clean, NET_HDR, 0);
        for (int i = 0; i < 3; i++)
        {
            nc_add(c, pg_frame[i == 0 ? 1 : 3].pa, PAGE, 0);
        }
        break;
    case 11: /* a short indirect chain of pieces */
    {
        struct nchain tc;
        struct page *t = net_table(&tc);
        if (!t)
        {
            nc_add(c, slot, NET_HDR, 0);
            break;
        }
        nc_add(&tc, slot, NET_HDR, 0);
        for (int n = 1 + (int)below(6); n > 0; n--)
        {
            net_frame_piece(&tc);
        }
        nc_indirect(c, t, &tc);
        break;
    }
    default: /* one of the generic hostile descriptors (its next may point anywhere) */
        if (c->cur < c->cap)
        {
            gen_desc(&c->t[c->cur], c->cap, 1);
            c->head = (int)c->cur++;
            c->wlen = ~0ull;
            c->rlen = ~0ull;
        }
        break;
    }
}

/* A writable piece in a receive pool page (pg_wr[0..2]). */
static void net_rx_piece(struct nchain *c, uint32_t len)
{
    struct page *p = &pg_wr[below(3)];
    if (g_net_valid && !len)
    {
        len = 1;
    }
    uint32_t off = len >= PAGE ? 0 : (uint32_t)below(PAGE - len + 1);
    nc_add(c, p->pa + off, len, D_WRITE);
}

/* One hostile receive chain; `big`: the frames may be 64 KiB (GUEST_TSO/UFO without MRG_RXBUF). */
static void net_rx_chain(struct nchain *c, int big)
{
    unsigned kind = (unsigned)below(12);
    while (g_net_valid && (kind == 3 || kind == 6 || kind == 7 || kind == 10 || kind == 11))
    {
        kind = (unsigned)below(12);
    }
    switch (kind)
    {
    case 0:
    case 1:
    case 2: /* a good buffer: 2 KiB, or 17 pages when big frames may come */
        if (big && chance(2))
        {
            for (int i = 0; i < 17; i++)
            {
                net_rx_piece(c, PAGE);
            }
        }
        else
        {
            net_rx_piece(c, NET_RX_BUF);
        }
        break;
    case 3: /* read-only descriptors on the receiveq (the device must not write them), maybe then writable */
        nc_add(c, pg_rd[below(4)].pa + below(PAGE / 2), (uint32_t)below(PAGE / 2) + 1, 0);
        if (chance(2))
        {
            net_rx_piece(c, NET_RX_BUF);
        }
        break;
    case 4: /* too small for a frame: shorter than a header, a header exactly, a header and a few bytes */
    {
        uint32_t l = chance(3) ? (uint32_t)below(NET_HDR) : chance(2) ? NET_HDR : NET_HDR + (uint32_t)below(60);
        net_rx_piece(c, l);
        break;
    }
    case 5: /* many small pieces (the header itself split) */
        for (int n = 2 + (int)below(40); n > 0; n--)
        {
            net_rx_piece(c, (uint32_t)below(64) + 1);
        }
        break;
    case 6: /* writable then read-only: readable after writable is not allowed */
        net_rx_piece(c, NET_RX_BUF / 2);
        nc_add(c, pg_rd[below(4)].pa, (uint32_t)below(PAGE) + 1, 0);
        net_rx_piece(c, NET_RX_BUF / 2);
        break;
    case 7: /* writable into nothing */
    {
        uint64_t a;
        uint32_t l;
        void_buf(&a, &l);
        nc_add(c, a, l, D_WRITE);
        break;
    }
    case 8:
    case 9: /* an indirect table of writable pieces */
    {
        struct nchain tc;
        struct page *t = net_table(&tc);
        if (!t)
        {
            net_rx_piece(c, NET_RX_BUF);
            break;
        }
        int n = chance(2) ? 1 + (int)below(4) : 17 + (int)below(32);
        for (int i = 0; i < n; i++)
        {
            net_rx_piece(&tc, i == 0 && chance(3) ? (uint32_t)below(NET_HDR + 1) : chance(2) ? PAGE : (uint32_t)below(PAGE) + 1);
        }
        nc_indirect(c, t, &tc);
        break;
    }
    case 10: /* zero-length writable, then a good buffer */
        nc_add(c, pg_wr[0].pa, 0, D_WRITE);
        net_rx_piece(c, NET_RX_BUF);
        break;
    default: /* a generic hostile descriptor */
        if (c->cur < c->cap)
        {
            gen_desc(&c->t[c->cur], c->cap, 1);
            c->head = (int)c->cur++;
            c->wlen = ~0ull;
            c->rlen = ~0ull;
        }
        break;
    }
}

/* Sets up queue q with own rings at a hostile but one-page size; returns the size, or 0 when the device keeps
   a size our table cannot hold (then the queue is left disabled). */
static uint16_t net_queue(int q, struct page *desc, struct page *avail, struct page *used)
{
    uint16_t max = g_qmax[q];
    uint16_t cap = max < 256 ? max : 256;
    uint16_t qs = chance(6) ? (uint16_t)(1u << below(4)) : pow2_floor(cap ? cap : 1);
    if (qs > cap && cap)
    {
        qs = pow2_floor(cap);
    }
    memset(desc->va, 0, PAGE);
    memset(avail->va, 0, PAGE);
    memset(used->va, 0, PAGE);
    c_wr(C_QSEL, 2, (uint16_t)q);
    c_wr(C_QSIZE, 2, qs);
    uint16_t got = (uint16_t)c_rd(C_QSIZE, 2);
    if (got != qs && (got > 256 || !got))
    {
        note("net queue %d keeps size %u after a write of %u", q, got, qs);
        return 0;
    }
    qs = got;
    c_wr(C_QMSIX, 2, !g_net_valid && chance(8) ? (uint16_t)rnd() : 0xffff);
    set_qaddr(C_QDESC, desc->pa);
    set_qaddr(C_QAVAIL, avail->pa);
    set_qaddr(C_QUSED, used->pa);
    if (g_net_valid || !chance(32))
    {
        c_wr(C_QEN, 2, 1);
    }
    return qs;
}

/* Fills a queue's table with chains of one kind and publishes their heads (rarely with junk heads or index). */
static uint16_t net_post(struct page *desc, struct page *avail, uint16_t qs, int rx, int big, int64_t *cap_of_head)
{
    struct nchain ring = { (struct vdesc *)desc->va, qs, 0, -1, -1, 0, 0 };
    volatile uint16_t *a = (volatile uint16_t *)avail->va;
    uint16_t n = 0;
    unsigned chains = 1 + (unsigned)below(qs < 32 ? qs : 32);
    for (unsigned k = 0; k < chains && ring.cur < ring.cap; k++)
    {
        nc_begin(&ring);
        if (rx)
        {
            net_rx_chain(&ring, big);
        }
        else
        {
            net_tx_chain(&ring);
        }
        if (ring.head < 0)
        {
            break;
        }
        uint64_t dlen = rx ? ring.wlen : ring.rlen;
        if (o_no_short && (dlen < NET_HDR || dlen == ~0ull))
        {
            continue; /* built but never published */
        }
        if (cap_of_head && ring.head < 256)
        {
            cap_of_head[ring.head] = ring.wlen == ~0ull ? -1 : (int64_t)(ring.wlen > 0x7fffffffffffull ? 0x7fffffffffffull : ring.wlen);
        }
        a[2 + n % qs] = (uint16_t)(!g_net_valid && chance(32) ? qs + below(100) : (unsigned)ring.head);
        n++;
        if (n == qs)
        {
            break;
        }
    }
    a[0] = (uint16_t)(chance(8) ? rnd() & 1 : 0); /* NO_INTERRUPT sometimes */
    a[2 + qs] = (uint16_t)(chance(2) ? 0 : rnd()); /* used_event, read under EVENT_IDX */
    uint16_t idx = n;
    if (!g_net_valid && chance(16))
    {
        /* far ahead; a random index (which may reach stale entries: head 0, maybe an unpublished chain) only
           where short chains are allowed */
        idx = chance(2) || o_no_short ? (uint16_t)(n + qs + below(100)) : (uint16_t)rnd();
    }
    return idx;
}

/* A hostile net bring-up: random feature subsets, both queues with hostile chains of the kinds above. */
static void fuzz_net_iter(void)
{
    snprintf(g_phase, sizeof g_phase, "net iteration %ld", g_iter);
    fuzz_reset("net iteration");
    fill_pools();
    net_fill_pools();
    g_net_tables_used = 0;
    g_net_valid = chance(2);
    status_wr(S_ACK);
    status_wr(S_ACK | S_DRIVER);
    uint64_t feat;
    switch (below(5))
    {
    case 0: feat = g_dev_features; break;
    case 1: feat = F_VERSION_1 | (g_dev_features & (NF(N_MAC) | NF(N_STATUS) | NF(N_MTU))); break;
    default: feat = F_VERSION_1 | (g_dev_features & rnd()); break;
    }
    if (g_net_valid)
    {
        feat = net_fix_deps(feat);
    }
    else if (chance(12))
    {
        feat |= NF(below(24)); /* maybe one never offered */
    }
    write_drv_features(feat);
    g_status_written = S_ACK | S_DRIVER;
    status_wr(S_ACK | S_DRIVER | S_FEATURES_OK);
    g_status_written |= S_FEATURES_OK;
    c_wr(C_MSIX, 2, 0xffff);
    int big = (feat & (NF(N_GUEST_TSO4) | NF(N_GUEST_TSO6) | NF(N_GUEST_UFO))) && !(feat & NF(N_MRG_RXBUF));
    snprintf(g_phase, sizeof g_phase, "net iteration %ld (%s, features 0x%" PRIx64 ")", g_iter, g_net_valid ? "legal rings" : "hostile rings", feat);
    if (o_verbose)
    {
        printf("virtio-fuzz: %s\n", g_phase);
        fflush(stdout);
    }

    uint16_t rqs = net_queue(0, &pg_rxdesc, &pg_rxavail, &pg_rxused);
    uint16_t tqs = g_numq > 1 ? net_queue(1, &pg_desc, &pg_avail, &pg_used) : 0;
    static int64_t rx_cap[256];
    for (int i = 0; i < 256; i++)
    {
        rx_cap[i] = -1;
    }
    uint16_t ridx = rqs ? net_post(&pg_rxdesc, &pg_rxavail, rqs, 1, big, rx_cap) : 0;
    uint16_t tidx = tqs ? net_post(&pg_desc, &pg_avail, tqs, 0, 0, NULL) : 0;
    if (g_net_valid || !chance(16))
    {
        status_wr(S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        g_status_written |= S_DRIVER_OK;
    }
    __sync_synchronize();
    int rx_first = chance(2);
    for (int step = 0; step < 2; step++)
    {
        if ((step == 0) == rx_first)
        {
            if (rqs)
            {
                ((volatile uint16_t *)pg_rxavail.va)[1] = ridx;
                kick(0);
            }
        }
        else if (tqs)
        {
            ((volatile uint16_t *)pg_avail.va)[1] = tidx;
            kick(1);
        }
    }
    if (!g_net_valid && chance(4))
    {
        kick((int)below((uint64_t)g_numq + 2));
    }
    uint64_t end = now_ns() + (uint64_t)o_wait_ms * 1000000ull;
    while (now_ns() < end)
    {
        (void)status_rd();
        sleep_us(1000);
    }
    /* a second kick of both, after the answers to the first frames may have come */
    kick(1);
    kick(0);
    sleep_us(2000);
    snprintf(g_phase, sizeof g_phase, "net iteration %ld: checks", g_iter);
    if (rqs)
    {
        uint16_t u = ((volatile uint16_t *)pg_rxused.va)[1];
        uint16_t n = u < rqs ? u : rqs;
        for (uint16_t i = 0; i < n; i++)
        {
            uint32_t *e = (uint32_t *)(pg_rxused.va + 4 + 8 * i);
            if (e[0] < 256 && rx_cap[e[0]] >= 0 && (int64_t)e[1] > rx_cap[e[0]])
            {
                fail("net: receiveq used len %u for head %u, a chain of %" PRId64 " writable bytes (features 0x%" PRIx64 ")", e[1], e[0],
                    rx_cap[e[0]], feat);
            }
        }
        g_rx_frames += n;
        g_completed += n;
    }
    if (tqs)
    {
        g_completed += ((volatile uint16_t *)pg_used.va)[1];
    }
    for (int i = 0; i < 9; i++)
    {
        struct page *p = net_ro_page(i);
        if (memcmp(g_net_ro_copy[i], p->va, PAGE) != 0)
        {
            unsigned off = 0;
            while (off < PAGE && g_net_ro_copy[i][off] == p->va[off])
            {
                off++;
            }
            fail("net: the device wrote into a read-only buffer (pool page %d, offset %u; features 0x%" PRIx64 ")", i, off, feat);
        }
    }
    (void)isr_rd();
    check_status_subset("hostile net queues");
}

/* ---- flood ---- */

struct lat
{
    uint64_t *v;
    size_t n, cap;
};

static volatile int g_flood_stop;
static struct lat lat_status, lat_isr, lat_cfg;
static uint64_t g_notify_writes;
static volatile long g_bad_reads; /* flood: register reads that returned impossible values (all-ones) */
static char g_bad_read_first[128];

static void lat_add(struct lat *l, uint64_t ns)
{
    if (l->n == l->cap)
    {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        if (cap > (1u << 22))
        {
            return;
        }
        uint64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
        {
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void lat_fmt(struct lat *l, const char *name, char *out, size_t len)
{
    if (!l->n)
    {
        snprintf(out, len, " %s-us=none", name);
        return;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_u64);
    snprintf(out, len, " %s-us=%" PRIu64 "/%" PRIu64 "/%" PRIu64 " %s-n=%zu", name, l->v[l->n / 2] / 1000,
        l->v[(l->n * 99) / 100] / 1000, l->v[l->n - 1] / 1000, name, l->n);
}

static void *hammer_thread(void *arg)
{
    (void)arg;
    static const int widths[] = { 1, 2, 4, 8 };
    uint64_t s = o_seed ^ 0xabcdef;
    uint64_t n = 0;
    while (!g_flood_stop)
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int q = (int)(s % (uint64_t)(g_numq + 4));
        mmio_wr(notify_ptr(q), widths[(s >> 20) & 3], s >> 8);
        if (++n % 64 == 0)
        {
            sched_yield();
        }
    }
    g_notify_writes = n;
    return NULL;
}

static void bad_read(const char *what, uint64_t v)
{
    if (g_bad_reads++ == 0)
    {
        snprintf(g_bad_read_first, sizeof g_bad_read_first, "%s read 0x%" PRIx64, what, v);
    }
}

static void *latency_thread(void *arg)
{
    (void)arg;
    uint32_t ids = 0x1af4u | g_id << 16;
    while (!g_flood_stop)
    {
        uint64_t t0 = now_ns();
        uint8_t status = (uint8_t)mmio_rd(r_common.p + C_STATUS, 1);
        uint64_t t1 = now_ns();
        uint8_t isr = (uint8_t)mmio_rd(r_isr.p, 1);
        uint64_t t2 = now_ns();
        uint32_t v;
        if (pread(g_cfg_fd, &v, 4, 0) != 4)
        {
            break;
        }
        uint64_t t3 = now_ns();
        /* the device is up, so status is ACK|DRIVER|FEATURES_OK|DRIVER_OK (NEEDS_RESET aside); ISR has two bits */
        if ((status & (uint8_t)~S_NEEDS_RESET) != (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK))
        {
            bad_read("device_status", status);
        }
        if (isr & ~3u)
        {
            bad_read("ISR", isr);
        }
        if (v != ids)
        {
            bad_read("config vendor/device", v);
        }
        lat_add(&lat_status, t1 - t0);
        lat_add(&lat_isr, t2 - t1);
        lat_add(&lat_cfg, t3 - t2);
        sleep_us(500);
    }
    return NULL;
}

static void flood(void)
{
    snprintf(g_phase, sizeof g_phase, "flood bring-up");
    int q = health_queue();
    uint16_t qs = 0;
    const char *why = bring_up_clean(q, &qs, F_INDIRECT | (g_is_blk ? (1ull << 1 | 1ull << 2) : 0));
    if (why)
    {
        fail("flood: %s", why);
    }
    c_wr(C_DFSEL, 4, 0);
    int indirect = (read_dev_features() & F_INDIRECT) != 0;
    uint32_t seg = g_contig_len, nseg = 254;
    if (g_is_blk)
    {
        uint32_t size_max = (uint32_t)mmio_rd(r_device.p + 8, 4), seg_max = (uint32_t)mmio_rd(r_device.p + 12, 4);
        if ((g_dev_features & (1ull << 1)) && size_max && size_max < seg)
        {
            seg = size_max & ~511u;
        }
        if ((g_dev_features & (1ull << 2)) && seg_max && seg_max < nseg)
        {
            nseg = seg_max;
        }
    }
    if (nseg > (uint32_t)qs - 2)
    {
        nseg = qs > 2 ? (uint32_t)qs - 2 : 1;
    }
    if (!indirect)
    {
        nseg = 1;
    }
    uint64_t want = o_req_kib ? (uint64_t)o_req_kib << 10 : 16ull << 20;
    while ((uint64_t)seg * nseg > want && nseg > 1)
    {
        nseg--;
    }
    if (g_is_blk && g_capacity)
    {
        while ((uint64_t)seg * nseg > g_capacity * 512 / 2 && nseg > 1)
        {
            nseg--;
        }
    }
    uint64_t req_bytes = (uint64_t)seg * nseg;
    int depth = o_depth > 0 && o_depth < qs ? o_depth : qs;
    if (!indirect && g_is_blk)
    {
        depth = qs / 3;
    }

    /* One indirect table per slot, each aliasing the same contiguous data run. */
    struct page *tables = calloc((size_t)depth, sizeof *tables);
    struct page hdrs = alloc_page(), stat = alloc_page();
    if (g_is_console)
    {
        for (uint32_t i = 0; i < g_contig_len; i++)
        {
            g_contig.va[i] = (uint8_t)(i % 80 == 79 ? '\n' : '.');
        }
    }
    struct vdesc *ring = (struct vdesc *)pg_cdesc.va;
    for (int s = 0; s < depth; s++)
    {
        uint64_t span = g_capacity > req_bytes / 512 ? g_capacity - req_bytes / 512 : 1;
        uint64_t sector = ((uint64_t)s * 8) % span;
        uint32_t type = 0;
        memcpy(hdrs.va + 16 * s, &type, 4);
        memcpy(hdrs.va + 16 * s + 8, &sector, 8);
        stat.va[s] = 0xff;
        if (indirect)
        {
            tables[s] = alloc_page();
            struct vdesc *t = (struct vdesc *)tables[s].va;
            uint32_t n = 0;
            if (g_is_blk)
            {
                t[n] = (struct vdesc){ hdrs.pa + 16 * s, 16, D_NEXT, (uint16_t)(n + 1) };
                n++;
            }
            for (uint32_t i = 0; i < nseg; i++, n++)
            {
                t[n] = (struct vdesc){ g_contig.pa, seg, (uint16_t)(D_NEXT | (g_is_console ? 0 : D_WRITE)), (uint16_t)(n + 1) };
            }
            if (g_is_blk)
            {
                t[n] = (struct vdesc){ stat.pa + s, 1, D_WRITE, 0 };
                n++;
            }
            t[n - 1].flags &= (uint16_t)~D_NEXT;
            ring[s] = (struct vdesc){ tables[s].pa, n * 16, D_INDIRECT, 0 };
        }
        else if (g_is_blk)
        {
            ring[3 * s] = (struct vdesc){ hdrs.pa + 16 * s, 16, D_NEXT, (uint16_t)(3 * s + 1) };
            ring[3 * s + 1] = (struct vdesc){ g_contig.pa, seg, D_NEXT | D_WRITE, (uint16_t)(3 * s + 2) };
            ring[3 * s + 2] = (struct vdesc){ stat.pa + s, 1, D_WRITE, 0 };
        }
        else
        {
            ring[s] = (struct vdesc){ g_contig.pa, seg, (uint16_t)(g_is_console ? 0 : D_WRITE), 0 };
        }
    }

    volatile uint16_t *avail = (volatile uint16_t *)pg_cavail.va;
    volatile uint16_t *uidx = (volatile uint16_t *)(pg_cused.va + 2);
    uint16_t aidx = 0, seen = 0;
    for (int s = 0; s < depth; s++)
    {
        avail[2 + aidx % qs] = (uint16_t)(indirect ? s : (g_is_blk ? 3 * s : s));
        aidx++;
    }
    __sync_synchronize();
    avail[1] = aidx;
    kick(q);

    printf("virtio-fuzz: flood start (%d s, %" PRIu64 "-byte requests, %d in flight)\n", o_seconds, req_bytes, depth);
    fflush(stdout);
    pthread_t th, tl;
    pthread_create(&th, NULL, hammer_thread, NULL);
    pthread_create(&tl, NULL, latency_thread, NULL);
    snprintf(g_phase, sizeof g_phase, "flood (%d s)", o_seconds);
    uint64_t end = now_ns() + (uint64_t)o_seconds * 1000000000ull;
    uint64_t bytes = 0;
    while (now_ns() < end)
    {
        uint16_t u = *uidx;
        if (u == seen)
        {
            sleep_us(200);
            continue;
        }
        __sync_synchronize();
        while (seen != u)
        {
            uint32_t *e = (uint32_t *)(pg_cused.va + 4 + 8 * (seen % qs));
            uint32_t id = e[0];
            uint32_t slot = indirect ? id : (g_is_blk ? id / 3 : id);
            if (slot >= (uint32_t)depth)
            {
                fail("flood: used id %u is no request of ours", id);
            }
            if (g_is_blk && stat.va[slot] != 0)
            {
                g_errors++;
                if (g_errors <= 3)
                {
                    note("flood: request %u status %u", slot, stat.va[slot]);
                }
            }
            bytes += e[1];
            stat.va[slot] = 0xff;
            avail[2 + aidx % qs] = (uint16_t)id;
            aidx++;
            seen++;
            g_completed++;
        }
        __sync_synchronize();
        avail[1] = aidx;
        kick(q);
    }
    g_flood_stop = 1;
    pthread_join(th, NULL);
    pthread_join(tl, NULL);
    printf("virtio-fuzz: flood end (%ld requests)\n", g_completed);
    fflush(stdout);

    /* Let what is in flight finish, then the health check resets. */
    snprintf(g_phase, sizeof g_phase, "flood drain");
    uint64_t drain_end = now_ns() + 60ull * 1000000000ull;
    while (*uidx != aidx && now_ns() < drain_end)
    {
        sleep_us(1000);
    }
    uint16_t left = (uint16_t)(aidx - *uidx);
    char a[96], b[96], c[96];
    lat_fmt(&lat_status, "status", a, sizeof a);
    lat_fmt(&lat_isr, "isr", b, sizeof b);
    lat_fmt(&lat_cfg, "cfg", c, sizeof c);
    snprintf(g_extra, sizeof g_extra, " req-bytes=%" PRIu64 " segs=%u depth=%d mib=%" PRIu64 " errors=%ld bad-reads=%ld notifies=%" PRIu64 "%s%s%s",
        req_bytes, nseg, depth, bytes >> 20, g_errors, g_bad_reads, g_notify_writes, a, b, c);
    if (left)
    {
        fail("flood: %u requests still in flight 60 s after the flood", left);
    }
    uint64_t worst = 0;
    struct lat *ls[] = { &lat_status, &lat_isr, &lat_cfg };
    for (int i = 0; i < 3; i++)
    {
        if (ls[i]->n && ls[i]->v[ls[i]->n - 1] > worst)
        {
            worst = ls[i]->v[ls[i]->n - 1];
        }
    }
    if (worst > (uint64_t)o_maxlat_ms * 1000000ull)
    {
        fail("flood: a status/ISR/config read took %" PRIu64 " ms", worst / 1000000);
    }
    if (g_errors)
    {
        fail("flood: %ld requests completed with a non-zero status", g_errors);
    }
    if (g_bad_reads)
    {
        fail("flood: %ld register reads returned impossible values (first: %s)", g_bad_reads, g_bad_read_first);
    }
    if (!g_completed)
    {
        fail("flood: no request completed");
    }
}

/* The net flood: the transmitq kept full of frames (ARP requests whose answers come back, full-size and jumbo
   frames of a local ethertype, frames over 64 KiB through indirect tables) while the receiveq keeps the four
   buffers of the bring-up and is never refilled: the device must drop what it cannot deliver. */
static void net_flood(void)
{
    snprintf(g_phase, sizeof g_phase, "flood bring-up");
    uint16_t qs = 0;
    const char *why = bring_up_clean(1, &qs, F_INDIRECT | NF(N_MAC) | NF(N_STATUS) | NF(N_MTU));
    if (why)
    {
        fail("flood: %s", why);
    }
    int indirect = (g_dev_features & F_INDIRECT) != 0;
    /* g_contig: a clean header, then a broadcast frame of the local experimental ethertype 0x88b5 */
    uint8_t *f = g_contig.va;
    memset(f, 0, NET_HDR);
    for (uint32_t i = NET_HDR; i < g_contig_len; i++)
    {
        f[i] = (uint8_t)i;
    }
    memset(f + NET_HDR, 0xff, 6);
    memcpy(f + NET_HDR + 6, g_mac, 6);
    f[NET_HDR + 12] = 0x88, f[NET_HDR + 13] = 0xb5;
    struct page arp = alloc_page();
    net_arp(arp.va + NET_HDR);
    uint32_t len_full = NET_HDR + 1514 < g_contig_len ? NET_HDR + 1514 : g_contig_len;
    uint32_t len_jumbo = NET_HDR + 9014 < g_contig_len ? NET_HDR + 9014 : g_contig_len;
    uint32_t seg = g_contig_len - NET_HDR < 65536 ? g_contig_len - NET_HDR : 65536;
    uint64_t want = o_req_kib ? (uint64_t)o_req_kib << 10 : 256ull << 10;
    uint32_t nseg = (uint32_t)((want + seg - 1) / seg);
    if (nseg > 200)
    {
        nseg = 200;
    }
    if (nseg < 2)
    {
        nseg = 2;
    }
    int depth = o_depth > 0 && o_depth < qs ? o_depth : qs;
    uint64_t *slot_bytes = calloc((size_t)depth, sizeof *slot_bytes);
    struct vdesc *ring = (struct vdesc *)pg_cdesc.va;
    for (int s = 0; s < depth; s++)
    {
        int kind = s % 4;
        if (kind == 3 && !indirect)
        {
            kind = 2;
        }
        switch (kind)
        {
        case 0:
            ring[s] = (struct vdesc){ arp.pa, NET_HDR + 60, 0, 0 };
            slot_bytes[s] = 60;
            break;
        case 1:
            ring[s] = (struct vdesc){ g_contig.pa, len_full, 0, 0 };
            slot_bytes[s] = len_full - NET_HDR;
            break;
        case 2:
            ring[s] = (struct vdesc){ g_contig.pa, len_jumbo, 0, 0 };
            slot_bytes[s] = len_jumbo - NET_HDR;
            break;
        default:
        {
            struct page t = alloc_page();
            struct vdesc *td = (struct vdesc *)t.va;
            td[0] = (struct vdesc){ arp.pa, NET_HDR, D_NEXT, 1 };
            for (uint32_t i = 0; i < nseg; i++)
            {
                td[1 + i] = (struct vdesc){ g_contig.pa + NET_HDR, seg, D_NEXT, (uint16_t)(2 + i) };
            }
            td[nseg].flags = 0;
            ring[s] = (struct vdesc){ t.pa, (nseg + 1) * 16, D_INDIRECT, 0 };
            slot_bytes[s] = (uint64_t)seg * nseg;
            break;
        }
        }
    }
    volatile uint16_t *avail = (volatile uint16_t *)pg_cavail.va;
    volatile uint16_t *uidx = (volatile uint16_t *)(pg_cused.va + 2);
    uint16_t aidx = 0, seen = 0;
    for (int s = 0; s < depth; s++)
    {
        avail[2 + aidx % qs] = (uint16_t)s;
        aidx++;
    }
    __sync_synchronize();
    avail[1] = aidx;
    kick(1);
    printf("virtio-fuzz: flood start (%d s, net frames up to %" PRIu64 " bytes, %d in flight, receiveq never refilled)\n", o_seconds,
        (uint64_t)seg * nseg, depth);
    fflush(stdout);
    pthread_t th, tl;
    pthread_create(&th, NULL, hammer_thread, NULL);
    pthread_create(&tl, NULL, latency_thread, NULL);
    snprintf(g_phase, sizeof g_phase, "flood (%d s)", o_seconds);
    uint64_t end = now_ns() + (uint64_t)o_seconds * 1000000000ull;
    uint64_t bytes = 0;
    while (now_ns() < end)
    {
        uint16_t u = *uidx;
        if (u == seen)
        {
            sleep_us(200);
            continue;
        }
        __sync_synchronize();
        while (seen != u)
        {
            uint32_t *e = (uint32_t *)(pg_cused.va + 4 + 8 * (seen % qs));
            uint32_t id = e[0];
            if (id >= (uint32_t)depth)
            {
                fail("flood: used id %u is no frame of ours", id);
            }
            bytes += slot_bytes[id];
            avail[2 + aidx % qs] = (uint16_t)id;
            aidx++;
            seen++;
            g_completed++;
        }
        __sync_synchronize();
        avail[1] = aidx;
        kick(1);
    }
    g_flood_stop = 1;
    pthread_join(th, NULL);
    pthread_join(tl, NULL);
    printf("virtio-fuzz: flood end (%ld frames)\n", g_completed);
    fflush(stdout);

    snprintf(g_phase, sizeof g_phase, "flood drain");
    uint64_t drain_end = now_ns() + 60ull * 1000000000ull;
    while (*uidx != aidx && now_ns() < drain_end)
    {
        sleep_us(1000);
    }
    uint16_t left = (uint16_t)(aidx - *uidx);
    uint16_t rx = ((volatile uint16_t *)pg_crxused.va)[1];
    g_rx_frames += rx;
    char a[96], b[96], c[96];
    lat_fmt(&lat_status, "status", a, sizeof a);
    lat_fmt(&lat_isr, "isr", b, sizeof b);
    lat_fmt(&lat_cfg, "cfg", c, sizeof c);
    snprintf(g_extra, sizeof g_extra, " frame-bytes=%" PRIu64 " segs=%u depth=%d mib=%" PRIu64 " rx-used=%u bad-reads=%ld notifies=%" PRIu64 "%s%s%s",
        (uint64_t)seg * nseg, nseg, depth, bytes >> 20, rx, g_bad_reads, g_notify_writes, a, b, c);
    if (left)
    {
        fail("flood: %u frames still in flight 60 s after the flood", left);
    }
    if (rx > 4)
    {
        fail("flood: receiveq used idx %u with 4 buffers posted", rx);
    }
    uint64_t worst = 0;
    struct lat *ls[] = { &lat_status, &lat_isr, &lat_cfg };
    for (int i = 0; i < 3; i++)
    {
        if (ls[i]->n && ls[i]->v[ls[i]->n - 1] > worst)
        {
            worst = ls[i]->v[ls[i]->n - 1];
        }
    }
    if (worst > (uint64_t)o_maxlat_ms * 1000000ull)
    {
        fail("flood: a status/ISR/config read took %" PRIu64 " ms", worst / 1000000);
    }
    if (g_bad_reads)
    {
        fail("flood: %ld register reads returned impossible values (first: %s)", g_bad_reads, g_bad_read_first);
    }
    if (!g_completed)
    {
        fail("flood: no frame completed");
    }
}

/* ---- take the function from its driver and give it back ---- */

static void take_function(void)
{
    snprintf(g_sys, sizeof g_sys, "/sys/bus/pci/devices/%s", g_addr);
    char path[192], buf[64];
    snprintf(path, sizeof path, "%s/device", g_sys);
    if (sysfs_read(path, buf, sizeof buf))
    {
        die_setup("no PCI function %s", g_addr);
    }
    g_id = (unsigned)strtoul(buf, NULL, 16);
    g_is_blk = modern_id(g_id) == ID_BLK;
    g_is_rng = modern_id(g_id) == ID_RNG;
    g_is_console = modern_id(g_id) == ID_CONSOLE;
    g_is_net = modern_id(g_id) == ID_NET;
    if (!g_is_blk && !g_is_rng && !g_is_console && !g_is_net)
    {
        die_setup("%s is device %04x: only net, blk, console and rng (1041-1044 or transitional 1000/1001/1003/1005) have health checks", g_addr, g_id);
    }
    snprintf(path, sizeof path, "%s/driver_override", g_sys);
    int e = sysfs_write(path, "none");
    if (e)
    {
        die_setup("driver_override: %s", strerror(-e));
    }
    snprintf(path, sizeof path, "%s/driver", g_sys);
    if (access(path, F_OK) == 0)
    {
        snprintf(path, sizeof path, "%s/driver/unbind", g_sys);
        e = sysfs_write(path, g_addr);
        if (e)
        {
            die_setup("unbind: %s", strerror(-e));
        }
    }
    g_unbound = 1;
    snprintf(path, sizeof path, "%s/config", g_sys);
    g_cfg_fd = open(path, O_RDWR);
    if (g_cfg_fd < 0)
    {
        die_setup("open %s: %s", path, strerror(errno));
    }
    g_cmd_orig = (uint16_t)cfg_rd(4, 2);
    cfg_wr(4, 2, (uint16_t)(g_cmd_orig | 0x0002 | 0x0004 | 0x0400)); /* memory, bus master, INTx off */
    walk_caps();
    if (g_msix_cap)
    {
        g_msix_ctrl_orig = (uint16_t)cfg_rd(g_msix_cap + 2, 2);
        cfg_wr(g_msix_cap + 2, 2, (uint16_t)(g_msix_ctrl_orig | 0x8000 | 0x4000));
        if ((cfg_rd(g_msix_cap + 2, 2) & 0xc000) != 0xc000)
        {
            die_setup("MSI-X enable with function mask did not stick (control 0x%04x)", cfg_rd(g_msix_cap + 2, 2));
        }
    }
}

static int g_restored;

/* virtio_net bound again: an interface under /sys/bus/pci/devices/ADDR/virtioN/net/ whose address is the config's MAC. */
static int net_interface_back(void)
{
    DIR *dir = opendir(g_sys);
    if (!dir)
    {
        return 0;
    }
    struct dirent *de;
    int ok = 0;
    while (!ok && (de = readdir(dir)) != NULL)
    {
        if (strncmp(de->d_name, "virtio", 6) != 0)
        {
            continue;
        }
        char path[400];
        snprintf(path, sizeof path, "%.128s/%.64s/net", g_sys, de->d_name);
        DIR *nd = opendir(path);
        if (!nd)
        {
            continue;
        }
        struct dirent *ne;
        while (!ok && (ne = readdir(nd)) != NULL)
        {
            if (ne->d_name[0] == '.')
            {
                continue;
            }
            char addr[600], want[32], got[64] = "";
            snprintf(addr, sizeof addr, "%.400s/%.64s/address", path, ne->d_name);
            snprintf(want, sizeof want, "%02x:%02x:%02x:%02x:%02x:%02x", g_mac[0], g_mac[1], g_mac[2], g_mac[3], g_mac[4], g_mac[5]);
            if (sysfs_read(addr, got, sizeof got) == 0 && (!net_offers(N_MAC) || strcmp(got, want) == 0))
            {
                snprintf(g_ifname, sizeof g_ifname, "%.31s", ne->d_name);
                ok = 1;
            }
        }
        closedir(nd);
    }
    closedir(dir);
    return ok;
}

/* Reset, hand the function back to virtio-pci. Returns NULL or what went wrong. */
static const char *give_back(int check_node)
{
    static char why[160];
    if (!g_unbound || g_restored)
    {
        return NULL;
    }
    g_restored = 1;
    snprintf(g_phase, sizeof g_phase, "giving the function back");
    if (r_common.p && dev_reset(2000))
    {
        return "device did not reset before the rebind (left unbound)";
    }
    if (g_msix_cap)
    {
        cfg_wr(g_msix_cap + 2, 2, g_msix_ctrl_orig);
    }
    cfg_wr(4, 2, g_cmd_orig);
    char path[192];
    snprintf(path, sizeof path, "%s/driver_override", g_sys);
    sysfs_write(path, "\n");
    int e = sysfs_write("/sys/bus/pci/drivers_probe", g_addr);
    if (e)
    {
        snprintf(why, sizeof why, "drivers_probe: %s", strerror(-e));
        return why;
    }
    if (!check_node)
    {
        return NULL;
    }
    const char *node = g_is_blk ? "/dev/vda" : g_is_rng ? "/dev/hwrng" : g_is_net ? "a net interface" : "/dev/hvc0";
    snprintf(g_phase, sizeof g_phase, "waiting for %s", node);
    uint64_t end = now_ns() + 10ull * 1000000000ull;
    for (;;)
    {
        int ok = 0;
        if (g_is_blk)
        {
            int fd = open(node, O_RDONLY);
            char b[512];
            ok = fd >= 0 && read(fd, b, sizeof b) == (ssize_t)sizeof b;
            if (fd >= 0)
            {
                close(fd);
            }
        }
        else if (g_is_net)
        {
            ok = net_interface_back();
        }
        else if (g_is_rng)
        {
            char cur[64] = "";
            sysfs_read("/sys/class/misc/hw_random/rng_current", cur, sizeof cur);
            int fd = strncmp(cur, "virtio_rng", 10) == 0 ? open(node, O_RDONLY | O_NONBLOCK) : -1;
            char b[16];
            ok = fd >= 0 && read(fd, b, sizeof b) > 0;
            if (fd >= 0)
            {
                close(fd);
            }
        }
        else
        {
            struct stat st;
            ok = stat(node, &st) == 0 && S_ISCHR(st.st_mode);
        }
        if (ok)
        {
            return NULL;
        }
        if (now_ns() > end)
        {
            snprintf(why, sizeof why, "%s not usable 10 s after the rebind", node);
            return why;
        }
        sleep_us(50000);
    }
}

static void restore_quietly(void)
{
    (void)give_back(0);
}

static void summary(int ok, const char *reason)
{
    if (__sync_lock_test_and_set(&g_summary_done, 1))
    {
        return;
    }
    char line[1400];
    int n = snprintf(line, sizeof line,
        "virtio-fuzz: %s device=%s id=%04x mode=%s seed=%" PRIu64 " iters=%ld health=%ld bad-regs=%ld completed=%ld time=%.1fs%s",
        ok ? "ok" : "FAIL", g_addr, g_id, o_mode, o_seed, g_iter, g_health, g_badregs, g_completed, elapsed_s(), g_extra);
    if (g_is_net && n > 0 && (size_t)n < sizeof line)
    {
        n += snprintf(line + n, sizeof line - (size_t)n, " rx-frames=%ld%s%s", g_rx_frames, g_ifname[0] ? " if=" : "", g_ifname);
    }
    if (!ok && n > 0 && (size_t)n < sizeof line)
    {
        snprintf(line + n, sizeof line - (size_t)n, " iter=%ld reason=%s", g_iter, reason);
    }
    fflush(stdout);
    size_t len = strlen(line);
    line[len] = '\n';
    ssize_t w = write(1, line, len + 1);
    (void)w;
}

static void usage(void)
{
    fprintf(stderr,
        "usage: virtio-fuzz [--dev net|blk|console|rng|1042|0000:00:03.0] [--seed S] [--iters N]\n"
        "                   [--mode regs|queues|all|flood] [--seconds S] [--health-every N] [--wait-ms MS]\n"
        "                   [--watchdog S] [--req-kib K] [--depth N] [--max-latency-ms MS] [--no-short 1] [--verbose]\n"
        "  --max-latency-ms: a status/ISR/config read slower than this fails the run (default 1000; flood 5000)\n"
        "  --no-short 1: net: no chain shorter than the 12-byte vnet header on either queue (QEMU 7.2 aborts on one:\n"
        "                iov_copy / iov_from_buf assertions); generic hostile chains go to the control queue only\n");
    exit(2);
}

int main(int argc, char **argv)
{
    clock_gettime(CLOCK_MONOTONIC, &g_start);
    for (int i = 1; i < argc; i++)
    {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose"))
        {
            o_verbose = 1;
            continue;
        }
        if (!v)
        {
            usage();
        }
        i++;
        if (!strcmp(a, "--dev")) o_dev = v;
        else if (!strcmp(a, "--seed")) o_seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--iters")) o_iters = strtol(v, NULL, 0);
        else if (!strcmp(a, "--mode")) o_mode = v;
        else if (!strcmp(a, "--seconds")) o_seconds = atoi(v);
        else if (!strcmp(a, "--health-every")) o_health_every = atoi(v);
        else if (!strcmp(a, "--wait-ms")) o_wait_ms = atoi(v);
        else if (!strcmp(a, "--watchdog")) o_watchdog = atoi(v);
        else if (!strcmp(a, "--req-kib")) o_req_kib = atol(v);
        else if (!strcmp(a, "--depth")) o_depth = atoi(v);
        else if (!strcmp(a, "--max-latency-ms")) o_maxlat_ms = atoi(v);
        else if (!strcmp(a, "--no-short")) o_no_short = atoi(v);
        else usage();
    }
    int flood_mode = !strcmp(o_mode, "flood");
    if (!flood_mode && strcmp(o_mode, "regs") && strcmp(o_mode, "queues") && strcmp(o_mode, "all"))
    {
        usage();
    }
    if (!o_maxlat_ms)
    {
        o_maxlat_ms = flood_mode ? 5000 : 1000;
    }
    if (o_health_every < 1)
    {
        o_health_every = 1;
    }
    if (!o_watchdog)
    {
        o_watchdog = flood_mode ? o_seconds + 120 : 600;
    }
    signal(SIGALRM, on_alarm);
    alarm((unsigned)o_watchdog);
    g_rng = o_seed;
    g_high_hi = 0x80000000ull | (rnd() & 0x7fff0000ull);

    if (find_function())
    {
        die_setup("no virtio-pci function for --dev %s", o_dev);
    }
    g_pagemap = open("/proc/self/pagemap", O_RDONLY);
    if (g_pagemap < 0)
    {
        die_setup("/proc/self/pagemap: %s", strerror(errno));
    }
    pg_cdesc = alloc_page();
    pg_cavail = alloc_page();
    pg_cused = alloc_page();
    pg_cbuf = alloc_page();
    pg_desc = alloc_page();
    pg_avail = alloc_page();
    pg_used = alloc_page();
    for (int i = 0; i < 6; i++)
    {
        pg_tables[i] = alloc_page();
    }
    for (int i = 0; i < 4; i++)
    {
        pg_rd[i] = alloc_page();
        pg_wr[i] = alloc_page();
    }
    pg_hdr = alloc_page();
    pg_crxdesc = alloc_page();
    pg_crxavail = alloc_page();
    pg_crxused = alloc_page();
    pg_crx[0] = alloc_page();
    pg_crx[1] = alloc_page();
    pg_rxdesc = alloc_page();
    pg_rxavail = alloc_page();
    pg_rxused = alloc_page();
    pg_vnet = alloc_page();
    for (int i = 0; i < 4; i++)
    {
        pg_frame[i] = alloc_page();
    }
    if (flood_mode)
    {
        alloc_contig();
    }

    snprintf(g_phase, sizeof g_phase, "taking the function");
    take_function();
    pick_addresses();
    if (g_is_blk && r_device.p)
    {
        g_capacity = mmio_rd(r_device.p, 4) | mmio_rd(r_device.p + 4, 4) << 32;
    }

    /* What the device is before any fuzzing: read-only registers to compare against later. */
    if (dev_reset(2000))
    {
        fail("setup: device_status did not read 0 within 2 s of the first reset");
    }
    g_numq = (int)c_rd(C_NUMQ, 2);
    if (g_numq < 1 || g_numq > 64)
    {
        fail("setup: num_queues %d", g_numq);
    }
    g_dev_features = read_dev_features();
    for (int q = 0; q < g_numq; q++)
    {
        c_wr(C_QSEL, 2, (uint16_t)q);
        g_qmax[q] = (uint16_t)c_rd(C_QSIZE, 2);
        g_qnoff[q] = (uint16_t)c_rd(C_QNOFF, 2);
    }
    if (o_verbose)
    {
        printf("virtio-fuzz: %s id %04x queues %d features 0x%" PRIx64 " notify mult %u msix cap 0x%x contig %u void %d mmio %d\n",
            g_addr, g_id, g_numq, g_dev_features, g_notify_mult, g_msix_cap, g_contig_len, g_nvoid, g_nmmio);
    }

    health_check("start");
    if (flood_mode)
    {
        if (g_is_net)
        {
            net_flood();
        }
        else
        {
            flood();
        }
    }
    else
    {
        for (g_iter = 0; g_iter < o_iters; g_iter++)
        {
            int regs = !strcmp(o_mode, "regs") || (!strcmp(o_mode, "all") && chance(2));
            if (regs)
            {
                fuzz_regs_iter();
            }
            else if (g_is_net && !chance(3))
            {
                fuzz_net_iter();
            }
            else
            {
                fuzz_queues_iter();
            }
            if ((g_iter + 1) % o_health_every == 0)
            {
                char when[48];
                snprintf(when, sizeof when, "after iteration %ld", g_iter);
                health_check(when);
            }
        }
    }
    health_check("end");
    const char *why = give_back(1);
    if (why)
    {
        fail("rebind: %s", why);
    }
    alarm(0);
    summary(1, NULL);
    return 0;
}
