/* A fake NVML: the NVIDIA Management Library functions tokenmeter calls (through nvml-wrapper), answered from a
 * trace file instead of a GPU, so that tests run `telemetry/nvml.rs` through nvml-wrapper's own loader on a
 * machine without a GPU. The tests compile it (`cc -shared -fPIC -o DIR/libnvidia-ml.so.1 nvml.c`) and put DIR
 * on the loader's search path (LD_LIBRARY_PATH) or pass the file's path.
 *
 * The trace is the file named by FAKE_NVML_TRACE, else `fake-nvml-trace.txt` beside the library. It is read at
 * the first nvmlInit. One setting a line, `#` starts a comment; times are seconds since the epoch (CLOCK_MONOTONIC
 * at the first nvmlInit, or `epoch_mono_ns`):
 *
 *   driver_version 550.54.15           system-wide settings
 *   nvml_version 12.550.54.15
 *   epoch_mono_ns 123456789            time 0 on CLOCK_MONOTONIC (a test aligns the trace with its own clock)
 *   device NVIDIA Fake H100            starts a device; the rest of the line is its name. Then, for that device:
 *   uuid GPU-00000000-...
 *   memory_mib 81920 1024              total, used
 *   bus_width_bits 5120
 *   clocks_mhz 1755 2619 1980 2619     graphics, memory, max graphics, max memory
 *   temperature_c 45
 *   utilization_pct 90 40              gpu, memory
 *   throttle_mask 0x4                  current clocks-event (throttle) reasons
 *   power_limit_w 700
 *   power 0.5 250                      a point of the power curve (s, W): linear between points, constant
 *                                      outside them; two points at one time make a step
 *   counter_start_mj 22000000000000    the energy counter's value at the epoch
 *   counter_period_ms 100              the counter refreshes every N ms of the epoch (0: always current)
 *   counter_reset_s 1.5                the counter restarts from 0 at this time (a driver reload)
 *   lost_s 2.0                         from this time on every call on the device returns GPU_IS_LOST
 *   not_supported temperature clocks   these readings return NOT_SUPPORTED: energy power clocks max_clocks
 *                                      temperature utilization memory throttle bus_width power_limit uuid
 *
 * The energy counter (mJ) is counter_start_mj + floor(1000 × the exact integral of the power curve from 0 to the
 * last refresh), so a test knows the true energy of any span. Power reads the curve at the time of the call.
 *
 * Compile-time variants, for a driver that is too old:
 *   -DFAKE_NVML_NO_ENERGY_SYMBOL   no nvmlDeviceGetTotalEnergyConsumption (before the counter existed)
 *   -DFAKE_NVML_NO_V2              no nvmlInit_v2, nvmlDeviceGetCount_v2, nvmlDeviceGetHandleByIndex_v2 or
 *                                  nvmlDeviceGetMemoryInfo_v2 (only the first interface)
 *
 * C99 and POSIX only; every reading is a pure function of the trace and the clock, so calls from several
 * threads need no lock (init and shutdown take one).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_UNKNOWN = 999
};

enum {
    F_ENERGY = 1 << 0,
    F_POWER = 1 << 1,
    F_CLOCKS = 1 << 2,
    F_MAX_CLOCKS = 1 << 3,
    F_TEMPERATURE = 1 << 4,
    F_UTILIZATION = 1 << 5,
    F_MEMORY = 1 << 6,
    F_THROTTLE = 1 << 7,
    F_BUS_WIDTH = 1 << 8,
    F_POWER_LIMIT = 1 << 9,
    F_UUID = 1 << 10
};

static const struct {
    const char *name;
    unsigned bit;
} FIELDS[] = {
    {"energy", F_ENERGY},           {"power", F_POWER},         {"clocks", F_CLOCKS},
    {"max_clocks", F_MAX_CLOCKS},   {"temperature", F_TEMPERATURE}, {"utilization", F_UTILIZATION},
    {"memory", F_MEMORY},           {"throttle", F_THROTTLE},   {"bus_width", F_BUS_WIDTH},
    {"power_limit", F_POWER_LIMIT}, {"uuid", F_UUID},
};

#define MAX_DEVICES 8
#define MAX_POINTS 256

struct device {
    char name[96];
    char uuid[96];
    unsigned long long memory_total, memory_used;
    unsigned bus_width_bits;
    unsigned clock_mhz[2], max_clock_mhz[2]; /* graphics, memory */
    unsigned temperature_c, util_gpu, util_memory;
    unsigned long long throttle_mask;
    unsigned power_limit_mw;
    int n;
    double t[MAX_POINTS], w[MAX_POINTS];
    unsigned long long counter_start_mj;
    double counter_period_s, counter_reset_s, lost_s; /* reset and lost: negative when never */
    unsigned unsupported;
};

typedef struct device *nvmlDevice_t;

typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
    unsigned version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned gpu, memory;
} nvmlUtilization_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int inits;  /* nvmlInit calls not yet shut down */
static int loaded; /* the trace has been read (once per process) */
static struct device devices[MAX_DEVICES];
static unsigned n_devices;
static char driver_version[80] = "550.54.15";
static char nvml_version[80] = "12.550.54.15";
static long long epoch_ns = -1;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double now_s(void) { return (double)(now_ns() - epoch_ns) / 1e9; }

static void copy(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src);
}

/* The trace file's path: FAKE_NVML_TRACE, else fake-nvml-trace.txt in this library's directory. */
static int trace_path(char *out, size_t size) {
    const char *env = getenv("FAKE_NVML_TRACE");
    if (env && *env) {
        copy(out, size, env);
        return 0;
    }
    Dl_info info;
    if (!dladdr((void *)&n_devices, &info) || !info.dli_fname)
        return -1;
    copy(out, size, info.dli_fname);
    char *slash = strrchr(out, '/');
    size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
    snprintf(out + dir, size - dir, "fake-nvml-trace.txt");
    return 0;
}

static int bad(const char *path, int line, const char *what) {
    fprintf(stderr, "fake-nvml: %s:%d: %s\n", path, line, what);
    return -1;
}

static int load_trace(void) {
    char path[4096];
    if (trace_path(path, sizeof path))
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[1024];
    int line = 0, rc = 0;
    struct device *d = NULL;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        line++;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        char key[64];
        int used = 0;
        if (sscanf(buf, " %63s %n", key, &used) < 1)
            continue;
        const char *rest = buf + used;
        if (!strcmp(key, "driver_version")) {
            copy(driver_version, sizeof driver_version, rest);
        } else if (!strcmp(key, "nvml_version")) {
            copy(nvml_version, sizeof nvml_version, rest);
        } else if (!strcmp(key, "epoch_mono_ns")) {
            epoch_ns = atoll(rest);
        } else if (!strcmp(key, "device")) {
            if (n_devices == MAX_DEVICES) {
                rc = bad(path, line, "too many devices");
                break;
            }
            d = &devices[n_devices];
            memset(d, 0, sizeof *d);
            copy(d->name, sizeof d->name, rest);
            snprintf(d->uuid, sizeof d->uuid, "GPU-fa4e0000-0000-0000-0000-%012u", n_devices);
            d->memory_total = 80ULL << 30;
            d->bus_width_bits = 5120;
            d->clock_mhz[0] = d->max_clock_mhz[0] = 1980;
            d->clock_mhz[1] = d->max_clock_mhz[1] = 2619;
            d->temperature_c = 40;
            d->power_limit_mw = 700000;
            d->counter_reset_s = d->lost_s = -1;
            n_devices++;
        } else if (!d) {
            rc = bad(path, line, "a device setting before any `device` line");
        } else if (!strcmp(key, "uuid")) {
            copy(d->uuid, sizeof d->uuid, rest);
        } else if (!strcmp(key, "memory_mib")) {
            unsigned long long total, used_mib;
            if (sscanf(rest, "%llu %llu", &total, &used_mib) != 2)
                rc = bad(path, line, "memory_mib TOTAL USED");
            d->memory_total = total << 20;
            d->memory_used = used_mib << 20;
        } else if (!strcmp(key, "bus_width_bits")) {
            d->bus_width_bits = (unsigned)atoi(rest);
        } else if (!strcmp(key, "clocks_mhz")) {
            if (sscanf(rest, "%u %u %u %u", &d->clock_mhz[0], &d->clock_mhz[1], &d->max_clock_mhz[0],
                       &d->max_clock_mhz[1]) != 4)
                rc = bad(path, line, "clocks_mhz GRAPHICS MEMORY MAX_GRAPHICS MAX_MEMORY");
        } else if (!strcmp(key, "temperature_c")) {
            d->temperature_c = (unsigned)atoi(rest);
        } else if (!strcmp(key, "utilization_pct")) {
            if (sscanf(rest, "%u %u", &d->util_gpu, &d->util_memory) != 2)
                rc = bad(path, line, "utilization_pct GPU MEMORY");
        } else if (!strcmp(key, "throttle_mask")) {
            d->throttle_mask = strtoull(rest, NULL, 0);
        } else if (!strcmp(key, "power_limit_w")) {
            d->power_limit_mw = (unsigned)(atof(rest) * 1000.0 + 0.5);
        } else if (!strcmp(key, "power")) {
            double t, w;
            if (d->n == MAX_POINTS || sscanf(rest, "%lf %lf", &t, &w) != 2 || w < 0 ||
                (d->n > 0 && t < d->t[d->n - 1]))
                rc = bad(path, line, "power SECONDS WATTS, in time order, watts >= 0");
            else {
                d->t[d->n] = t;
                d->w[d->n] = w;
                d->n++;
            }
        } else if (!strcmp(key, "counter_start_mj")) {
            d->counter_start_mj = strtoull(rest, NULL, 10);
        } else if (!strcmp(key, "counter_period_ms")) {
            d->counter_period_s = atof(rest) / 1e3;
        } else if (!strcmp(key, "counter_reset_s")) {
            d->counter_reset_s = atof(rest);
        } else if (!strcmp(key, "lost_s")) {
            d->lost_s = atof(rest);
        } else if (!strcmp(key, "not_supported")) {
            char field[64];
            int n = 0;
            while (rc == 0 && sscanf(rest, " %63s %n", field, &n) == 1) {
                rest += n;
                size_t i;
                for (i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
                    if (!strcmp(field, FIELDS[i].name))
                        break;
                if (i == sizeof FIELDS / sizeof FIELDS[0])
                    rc = bad(path, line, "not_supported: unknown field");
                else
                    d->unsupported |= FIELDS[i].bit;
            }
        } else if (!strcmp(key, "no_energy_counter")) {
            d->unsupported |= F_ENERGY;
        } else {
            rc = bad(path, line, "unknown setting");
        }
    }
    fclose(f);
    return rc;
}

/* The power curve at `t` seconds (right-continuous at a step). */
static double power_w(const struct device *d, double t) {
    if (d->n == 0)
        return 0.0;
    if (t < d->t[0])
        return d->w[0];
    for (int i = 0; i + 1 < d->n; i++)
        if (t < d->t[i + 1]) {
            double span = d->t[i + 1] - d->t[i];
            return d->w[i] + (d->w[i + 1] - d->w[i]) * (t - d->t[i]) / span;
        }
    return d->w[d->n - 1];
}

/* The exact integral of the power curve over [a, b] (J): constant before the first point and after the last,
 * a trapezoid on each segment between points. */
static double energy_j(const struct device *d, double a, double b) {
    if (d->n == 0 || b <= a)
        return 0.0;
    double sum = 0.0;
    if (a < d->t[0])
        sum += d->w[0] * (fmin(b, d->t[0]) - a);
    for (int i = 0; i + 1 < d->n; i++) {
        double t0 = d->t[i], t1 = d->t[i + 1];
        double x0 = fmax(a, t0), x1 = fmin(b, t1);
        if (t1 <= t0 || x1 <= x0)
            continue;
        double slope = (d->w[i + 1] - d->w[i]) / (t1 - t0);
        sum += (d->w[i] + slope * (x0 - t0) + d->w[i] + slope * (x1 - t0)) / 2.0 * (x1 - x0);
    }
    if (b > d->t[d->n - 1])
        sum += d->w[d->n - 1] * (b - fmax(a, d->t[d->n - 1]));
    return sum;
}

/* The counter at `t`: the integral since the epoch (or since the reset) up to the counter's last refresh. */
static unsigned long long counter_mj(const struct device *d, double t) {
    double at = d->counter_period_s > 0 ? floor(t / d->counter_period_s) * d->counter_period_s : t;
    if (d->counter_reset_s >= 0 && at >= d->counter_reset_s)
        return (unsigned long long)floor(1000.0 * energy_j(d, d->counter_reset_s, at));
    return d->counter_start_mj + (unsigned long long)floor(1000.0 * energy_j(d, 0.0, at));
}

/* Whether `d` is one of ours, and still answering; NVML_SUCCESS when it is. */
static nvmlReturn_t check(nvmlDevice_t d, const void *out) {
    if (!inits)
        return NVML_ERROR_UNINITIALIZED;
    if (!out || d < devices || d >= devices + n_devices)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (d->lost_s >= 0 && now_s() >= d->lost_s)
        return NVML_ERROR_GPU_IS_LOST;
    return NVML_SUCCESS;
}

#define READING(d, out, bit)                                                                                      \
    do {                                                                                                          \
        nvmlReturn_t rc_ = check(d, out);                                                                         \
        if (rc_ != NVML_SUCCESS)                                                                                  \
            return rc_;                                                                                           \
        if ((d)->unsupported & (bit))                                                                             \
            return NVML_ERROR_NOT_SUPPORTED;                                                                      \
    } while (0)

static nvmlReturn_t init(void) {
    pthread_mutex_lock(&lock);
    nvmlReturn_t rc = NVML_SUCCESS;
    if (!loaded) {
        if (load_trace() != 0)
            rc = NVML_ERROR_DRIVER_NOT_LOADED;
        else {
            loaded = 1;
            if (epoch_ns < 0)
                epoch_ns = now_ns();
        }
    }
    if (rc == NVML_SUCCESS)
        inits++;
    pthread_mutex_unlock(&lock);
    return rc;
}

nvmlReturn_t nvmlInit(void) { return init(); }
nvmlReturn_t nvmlInitWithFlags(unsigned flags) {
    (void)flags;
    return init();
}
#ifndef FAKE_NVML_NO_V2
nvmlReturn_t nvmlInit_v2(void) { return init(); }
#endif

nvmlReturn_t nvmlShutdown(void) {
    pthread_mutex_lock(&lock);
    nvmlReturn_t rc = inits > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    if (inits > 0)
        inits--;
    pthread_mutex_unlock(&lock);
    return rc;
}

const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

static nvmlReturn_t string_out(char *out, unsigned length, const char *value) {
    if (!inits)
        return NVML_ERROR_UNINITIALIZED;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(value) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    copy(out, length, value);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned length) {
    return string_out(version, length, driver_version);
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned length) {
    return string_out(version, length, nvml_version);
}

static nvmlReturn_t count(unsigned *n) {
    if (!inits)
        return NVML_ERROR_UNINITIALIZED;
    if (!n)
        return NVML_ERROR_INVALID_ARGUMENT;
    *n = n_devices;
    return NVML_SUCCESS;
}

static nvmlReturn_t handle(unsigned index, nvmlDevice_t *device) {
    if (!inits)
        return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= n_devices)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = check(&devices[index], device);
    if (rc == NVML_SUCCESS)
        *device = &devices[index];
    return rc;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned *n) { return count(n); }
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned index, nvmlDevice_t *device) { return handle(index, device); }
#ifndef FAKE_NVML_NO_V2
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *n) { return count(n); }
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t *device) {
    return handle(index, device);
}
#endif

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned length) {
    READING(d, name, 0);
    return string_out(name, length, d->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned length) {
    READING(d, uuid, F_UUID);
    return string_out(uuid, length, d->uuid);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
    READING(d, m, F_MEMORY);
    m->total = d->memory_total;
    m->used = d->memory_used;
    m->free = d->memory_total - d->memory_used;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_NO_V2
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    READING(d, m, F_MEMORY);
    m->total = d->memory_total;
    m->reserved = 0;
    m->used = d->memory_used;
    m->free = d->memory_total - d->memory_used;
    return NVML_SUCCESS;
}
#endif

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *mw) {
    READING(d, mw, F_POWER);
    *mw = (unsigned)(power_w(d, now_s()) * 1000.0 + 0.5);
    return NVML_SUCCESS;
}

/* The variant without the symbol keeps the function under a name the loader cannot find. */
#ifdef FAKE_NVML_NO_ENERGY_SYMBOL
#define nvmlDeviceGetTotalEnergyConsumption __attribute__((visibility("hidden"))) absent_total_energy
#endif
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
    READING(d, mj, F_ENERGY);
    *mj = counter_mj(d, now_s());
    return NVML_SUCCESS;
}

/* Clock types: 0 graphics, 1 SM (as graphics), 2 memory, 3 video (not supported). */
static nvmlReturn_t clock_of(const unsigned mhz[2], int type, unsigned *out) {
    if (type == 0 || type == 1)
        *out = mhz[0];
    else if (type == 2)
        *out = mhz[1];
    else
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned *mhz) {
    READING(d, mhz, F_CLOCKS);
    return clock_of(d->clock_mhz, type, mhz);
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned *mhz) {
    READING(d, mhz, F_MAX_CLOCKS);
    return clock_of(d->max_clock_mhz, type, mhz);
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned *c) {
    READING(d, c, F_TEMPERATURE);
    if (sensor != 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    *c = d->temperature_c;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    READING(d, u, F_UTILIZATION);
    u->gpu = d->util_gpu;
    u->memory = d->util_memory;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t d, unsigned long long *reasons) {
    READING(d, reasons, F_THROTTLE);
    *reasons = d->throttle_mask;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *reasons) {
    return nvmlDeviceGetCurrentClocksThrottleReasons(d, reasons);
}

static nvmlReturn_t power_limit(nvmlDevice_t d, unsigned *mw) {
    READING(d, mw, F_POWER_LIMIT);
    *mw = d->power_limit_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t d, unsigned *mw) { return power_limit(d, mw); }
nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned *mw) { return power_limit(d, mw); }

nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t d, unsigned *bits) {
    READING(d, bits, F_BUS_WIDTH);
    *bits = d->bus_width_bits;
    return NVML_SUCCESS;
}
