// SPDX-License-Identifier: Apache-2.0
/*
 * palisade_bpf: the shim's kernel access layer, a small N-API addon over libbpf.
 *
 * Every call is synchronous and short (a handful of bpf() syscalls); batch calls take all
 * keys and values of a batch in one Buffer so that a whole update crosses from JavaScript
 * into C once. Errors are thrown as Error objects whose `code` is the errno name (e.g.
 * "ENOENT") and whose message names the operation and ends with libbpf's last log lines.
 *
 * Built against the Node.js headers installed with Node (node_api.h) and Debian's libbpf.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <malloc.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- libbpf log capture ---------------------------------------------------------------- */

#define LOG_CAP 8192
static char g_log[LOG_CAP];
static size_t g_log_len;

static int log_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n <= 0 || strstr(line, ".layout"))
		return 0; /* the layout anchor section is meant to be skipped */
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (g_log_len + (size_t)n >= LOG_CAP) {
		/* keep the newest half */
		size_t keep = LOG_CAP / 2;
		memmove(g_log, g_log + g_log_len - keep, keep);
		g_log_len = keep;
	}
	memcpy(g_log + g_log_len, line, (size_t)n);
	g_log_len += (size_t)n;
	g_log[g_log_len] = 0;
	return 0;
}

static void log_clear(void)
{
	g_log_len = 0;
	g_log[0] = 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case 524: return "ENOTSUPP";
	default: return "EUNKNOWN";
	}
}

/* Throws an Error with code = errno name; returns NULL for convenience. */
static napi_value throw_errno(napi_env env, int err, const char *op)
{
	if (err < 0)
		err = -err;
	char msg[LOG_CAP + 512];
	const char *tail = g_log;
	if (g_log_len > 1500)
		tail = g_log + g_log_len - 1500;
	snprintf(msg, sizeof(msg), "%s: %s%s%s", op, strerror(err), g_log_len ? "\n" : "",
		 g_log_len ? tail : "");
	napi_throw_error(env, errno_name(err), msg);
	return NULL;
}

static napi_value throw_type(napi_env env, const char *msg)
{
	napi_throw_type_error(env, "EARG", msg);
	return NULL;
}

#define ARGS(n)                                                                                \
	size_t argc = (n);                                                                     \
	napi_value argv[(n) > 0 ? (n) : 1];                                                    \
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)                   \
		return NULL;

static int get_i32(napi_env env, napi_value v, int32_t *out)
{
	return napi_get_value_int32(env, v, out) == napi_ok;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out)
{
	return napi_get_value_uint32(env, v, out) == napi_ok;
}

/* Copies a JS string into buf (NUL-terminated). */
static int get_str(napi_env env, napi_value v, char *buf, size_t cap)
{
	size_t len;
	return napi_get_value_string_utf8(env, v, buf, cap, &len) == napi_ok && len < cap - 1;
}

static int get_buf(napi_env env, napi_value v, void **data, size_t *len)
{
	bool is;
	if (napi_is_buffer(env, v, &is) != napi_ok || !is)
		return 0;
	return napi_get_buffer_info(env, v, data, len) == napi_ok;
}

static napi_value num(napi_env env, double d)
{
	napi_value v;
	napi_create_double(env, d, &v);
	return v;
}

static napi_value copy_buf(napi_env env, const void *data, size_t len)
{
	napi_value v;
	void *out;
	napi_create_buffer_copy(env, len, data, &out, &v);
	return v;
}

static void set_prop(napi_env env, napi_value obj, const char *name, napi_value v)
{
	napi_set_named_property(env, obj, name, v);
}

/* ---- objects ----------------------------------------------------------------------------- */

struct obj_handle {
	struct bpf_object *obj;
};

static void obj_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	struct obj_handle *h = data;
	if (h->obj)
		bpf_object__close(h->obj);
	free(h);
}

static struct obj_handle *get_obj(napi_env env, napi_value v)
{
	void *p = NULL;
	if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
		throw_type(env, "expected an object handle");
		return NULL;
	}
	struct obj_handle *h = p;
	if (!h->obj) {
		napi_throw_error(env, "ECLOSED", "object handle already closed");
		return NULL;
	}
	return h;
}

/* openObject(path, pinRoot, maxEntries: {name: n}) -> handle. Maps declared with
 * LIBBPF_PIN_BY_NAME are pinned under pinRoot, or reused when already pinned there. */
static napi_value open_object(napi_env env, napi_callback_info info)
{
	ARGS(3);
	char path[4096], pin_root[4096];
	if (argc < 3 || !get_str(env, argv[0], path, sizeof(path)) ||
	    !get_str(env, argv[1], pin_root, sizeof(pin_root)))
		return throw_type(env, "openObject(path, pinRoot, maxEntries)");
	log_clear();
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	if (!obj)
		return throw_errno(env, errno, "open BPF object");

	napi_value names;
	uint32_t n = 0;
	if (napi_get_property_names(env, argv[2], &names) == napi_ok)
		napi_get_array_length(env, names, &n);
	for (uint32_t i = 0; i < n; i++) {
		napi_value k, v;
		char name[256];
		uint32_t max;
		napi_get_element(env, names, i, &k);
		napi_get_property(env, argv[2], k, &v);
		if (!get_str(env, k, name, sizeof(name)) || !get_u32(env, v, &max)) {
			bpf_object__close(obj);
			return throw_type(env, "maxEntries: {mapName: number}");
		}
		struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
		if (!m) {
			bpf_object__close(obj);
			napi_throw_error(env, "ENOENT", "maxEntries names a map the object does not have");
			return NULL;
		}
		int err = bpf_map__set_max_entries(m, max);
		if (err) {
			bpf_object__close(obj);
			return throw_errno(env, err, "set map size");
		}
	}
	int err = bpf_object__load(obj);
	if (err) {
		bpf_object__close(obj);
		return throw_errno(env, err, "load BPF object");
	}
	struct obj_handle *h = calloc(1, sizeof(*h));
	h->obj = obj;
	napi_value out;
	napi_create_external(env, h, obj_finalize, NULL, &out);
	return out;
}

static napi_value close_object(napi_env env, napi_callback_info info)
{
	ARGS(1);
	void *p = NULL;
	if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p)
		return throw_type(env, "closeObject(handle)");
	struct obj_handle *h = p;
	if (h->obj) {
		bpf_object__close(h->obj);
		h->obj = NULL;
	}
	return NULL;
}

/* The fd of a map or program of an object, by name (owned by the object). */
static napi_value named_fd(napi_env env, napi_callback_info info, int is_map)
{
	ARGS(2);
	char name[256];
	struct obj_handle *h = argc >= 2 ? get_obj(env, argv[0]) : NULL;
	if (!h)
		return NULL;
	if (!get_str(env, argv[1], name, sizeof(name)))
		return throw_type(env, is_map ? "objectMapFd(handle, name)" :
						"objectProgFd(handle, name)");
	int fd = -1;
	if (is_map) {
		struct bpf_map *m = bpf_object__find_map_by_name(h->obj, name);
		fd = m ? bpf_map__fd(m) : -1;
	} else {
		struct bpf_program *p = bpf_object__find_program_by_name(h->obj, name);
		fd = p ? bpf_program__fd(p) : -1;
	}
	if (fd < 0) {
		napi_throw_error(env, "ENOENT",
				 is_map ? "no such map in the object" : "no such program in the object");
		return NULL;
	}
	return num(env, fd);
}

/* objectMapFd(handle, name) -> fd (owned by the object). */
static napi_value object_map_fd(napi_env env, napi_callback_info info)
{
	return named_fd(env, info, 1);
}

/* objectProgFd(handle, name) -> fd (owned by the object). */
static napi_value object_prog_fd(napi_env env, napi_callback_info info)
{
	return named_fd(env, info, 0);
}

/* ---- fds and maps ------------------------------------------------------------------------ */

/* objGet(path) -> fd of a pinned object (the caller closes it). */
static napi_value obj_get(napi_env env, napi_callback_info info)
{
	ARGS(1);
	char path[4096];
	if (argc < 1 || !get_str(env, argv[0], path, sizeof(path)))
		return throw_type(env, "objGet(path)");
	log_clear();
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return throw_errno(env, errno, "open pinned object");
	return num(env, fd);
}

static napi_value close_fd(napi_env env, napi_callback_info info)
{
	ARGS(1);
	int32_t fd;
	if (argc < 1 || !get_i32(env, argv[0], &fd))
		return throw_type(env, "closeFd(fd)");
	close(fd);
	return NULL;
}

/* mapInfo(fd) -> {id, type, name, keySize, valueSize, maxEntries, flags}. */
static napi_value map_info(napi_env env, napi_callback_info info)
{
	ARGS(1);
	int32_t fd;
	if (argc < 1 || !get_i32(env, argv[0], &fd))
		return throw_type(env, "mapInfo(fd)");
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);
	log_clear();
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return throw_errno(env, errno, "map info");
	napi_value o, s;
	napi_create_object(env, &o);
	set_prop(env, o, "id", num(env, mi.id));
	set_prop(env, o, "type", num(env, mi.type));
	napi_create_string_utf8(env, mi.name, NAPI_AUTO_LENGTH, &s);
	set_prop(env, o, "name", s);
	set_prop(env, o, "keySize", num(env, mi.key_size));
	set_prop(env, o, "valueSize", num(env, mi.value_size));
	set_prop(env, o, "maxEntries", num(env, mi.max_entries));
	set_prop(env, o, "flags", num(env, mi.map_flags));
	return o;
}

/* progId(fd) -> the kernel's id of a program. */
static napi_value prog_id(napi_env env, napi_callback_info info)
{
	ARGS(1);
	int32_t fd;
	if (argc < 1 || !get_i32(env, argv[0], &fd))
		return throw_type(env, "progId(fd)");
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		return throw_errno(env, errno, "program info");
	return num(env, pi.id);
}

static napi_value num_possible_cpus(napi_env env, napi_callback_info info)
{
	(void)info;
	int n = libbpf_num_possible_cpus();
	if (n < 0)
		return throw_errno(env, n, "possible CPUs");
	return num(env, n);
}

/* mapLookup(fd, key, valueSize) -> Buffer | null. valueSize is the kernel's value size
 * (for per-CPU maps: round_up(size, 8) * possible CPUs). */
static napi_value map_lookup(napi_env env, napi_callback_info info)
{
	ARGS(3);
	int32_t fd;
	uint32_t vsize;
	void *key;
	size_t klen;
	if (argc < 3 || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &key, &klen) ||
	    !get_u32(env, argv[2], &vsize))
		return throw_type(env, "mapLookup(fd, key, valueSize)");
	void *val = malloc(vsize ? vsize : 1);
	if (bpf_map_lookup_elem(fd, key, val)) {
		int e = errno;
		free(val);
		if (e == ENOENT) {
			napi_value nul;
			napi_get_null(env, &nul);
			return nul;
		}
		return throw_errno(env, e, "map lookup");
	}
	napi_value out = copy_buf(env, val, vsize);
	free(val);
	return out;
}

/* mapUpdate(fd, keys, values, count, flags) -> count. One batch syscall when the map
 * supports it, else one update per element (still one call from JavaScript). On failure
 * the error's message names the index of the element that failed. */
static napi_value map_update(napi_env env, napi_callback_info info)
{
	ARGS(5);
	int32_t fd;
	uint32_t count, flags;
	void *keys, *vals;
	size_t klen, vlen;
	if (argc < 5 || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &keys, &klen) ||
	    !get_buf(env, argv[2], &vals, &vlen) || !get_u32(env, argv[3], &count) ||
	    !get_u32(env, argv[4], &flags))
		return throw_type(env, "mapUpdate(fd, keys, values, count, flags)");
	if (count == 0)
		return num(env, 0);
	if (klen % count || vlen % count)
		return throw_type(env, "mapUpdate: buffer sizes are not a multiple of count");
	size_t ks = klen / count, vs = vlen / count;
	log_clear();
	__u32 n = count;
	LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = flags);
	if (bpf_map_update_batch(fd, keys, vals, &n, &bo) == 0)
		return num(env, count);
	int e = errno;
	if (e != EINVAL && e != ENOTSUP && e != EOPNOTSUPP && e != 524 /* ENOTSUPP */)
		return throw_errno(env, e, "map batch update");
	for (uint32_t i = 0; i < count; i++) {
		if (bpf_map_update_elem(fd, (char *)keys + i * ks, (char *)vals + i * vs, flags)) {
			char op[96];
			snprintf(op, sizeof(op), "map update (element %u of %u)", i, count);
			return throw_errno(env, errno, op);
		}
	}
	return num(env, count);
}

/* mapDelete(fd, keys, count) -> number of keys that existed and were deleted. */
static napi_value map_delete(napi_env env, napi_callback_info info)
{
	ARGS(3);
	int32_t fd;
	uint32_t count;
	void *keys;
	size_t klen;
	if (argc < 3 || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &keys, &klen) ||
	    !get_u32(env, argv[2], &count))
		return throw_type(env, "mapDelete(fd, keys, count)");
	if (count == 0)
		return num(env, 0);
	if (klen % count)
		return throw_type(env, "mapDelete: buffer size is not a multiple of count");
	size_t ks = klen / count;
	uint32_t deleted = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (bpf_map_delete_elem(fd, (char *)keys + i * ks) == 0)
			deleted++;
		else if (errno != ENOENT) {
			char op[96];
			snprintf(op, sizeof(op), "map delete (element %u of %u)", i, count);
			return throw_errno(env, errno, op);
		}
	}
	return num(env, deleted);
}

/* mapDump(fd, keySize, valueSize) -> {keys, values, count}: every entry of a map. */
static napi_value map_dump(napi_env env, napi_callback_info info)
{
	ARGS(3);
	int32_t fd;
	uint32_t ks, vs;
	if (argc < 3 || !get_i32(env, argv[0], &fd) || !get_u32(env, argv[1], &ks) ||
	    !get_u32(env, argv[2], &vs) || ks == 0)
		return throw_type(env, "mapDump(fd, keySize, valueSize)");
	size_t cap = 1024, n = 0;
	char *keys = malloc(cap * ks), *vals = malloc(cap * (vs ? vs : 1));
	char *cur = NULL, *next = malloc(ks);
	for (;;) {
		if (bpf_map_get_next_key(fd, cur, next)) {
			if (errno == ENOENT)
				break;
			int e = errno;
			free(keys), free(vals), free(next), free(cur);
			return throw_errno(env, e, "map iterate");
		}
		if (n == cap) {
			cap *= 2;
			keys = realloc(keys, cap * ks);
			vals = realloc(vals, cap * (vs ? vs : 1));
		}
		if (bpf_map_lookup_elem(fd, next, vals + n * vs) == 0) {
			memcpy(keys + n * ks, next, ks);
			n++;
		} /* else: deleted meanwhile */
		if (!cur)
			cur = malloc(ks);
		memcpy(cur, next, ks);
	}
	napi_value o;
	napi_create_object(env, &o);
	set_prop(env, o, "keys", copy_buf(env, keys, n * ks));
	set_prop(env, o, "values", copy_buf(env, vals, n * vs));
	set_prop(env, o, "count", num(env, (double)n));
	free(keys), free(vals), free(next), free(cur);
	return o;
}

/* mapDumpInto(fd, keys, values, keySize, valueSize) -> number of entries the map holds.
 * Writes as many entries as fit into the caller's buffers, packed; when the result is
 * larger than what fit, the caller grows its buffers and calls again. Allocates nothing,
 * so a periodic re-read of a map costs no memory once the buffers have their size. */
static napi_value map_dump_into(napi_env env, napi_callback_info info)
{
	ARGS(5);
	int32_t fd;
	uint32_t ks, vs;
	void *keys, *vals;
	size_t klen, vlen;
	if (argc < 5 || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &keys, &klen) ||
	    !get_buf(env, argv[2], &vals, &vlen) || !get_u32(env, argv[3], &ks) ||
	    !get_u32(env, argv[4], &vs) || ks == 0 || ks > 256)
		return throw_type(env, "mapDumpInto(fd, keys, values, keySize, valueSize)");
	size_t room = klen / ks;
	if (vs && vlen / vs < room)
		room = vlen / vs;
	unsigned char cur[256], next[256];
	int have_cur = 0;
	size_t n = 0, total = 0;
	for (;;) {
		if (bpf_map_get_next_key(fd, have_cur ? cur : NULL, next)) {
			if (errno == ENOENT)
				break;
			return throw_errno(env, errno, "map iterate");
		}
		if (n >= room) {
			total++; /* no room: only count */
		} else if (bpf_map_lookup_elem(fd, next, (char *)vals + n * vs) == 0) {
			memcpy((char *)keys + n * ks, next, ks);
			n++;
			total++;
		} /* else: deleted meanwhile */
		memcpy(cur, next, ks);
		have_cur = 1;
	}
	return num(env, (double)total);
}

/* ---- tc ---------------------------------------------------------------------------------- */

static int get_hook(napi_env env, napi_value *argv, size_t argc, struct bpf_tc_hook *hook,
		    struct bpf_tc_opts *opts)
{
	int32_t ifindex;
	uint32_t prio, handle;
	char point[16];
	if (argc < 4 || !get_i32(env, argv[0], &ifindex) ||
	    !get_str(env, argv[1], point, sizeof(point)) || !get_u32(env, argv[2], &prio) ||
	    !get_u32(env, argv[3], &handle))
		return 0;
	hook->ifindex = ifindex;
	if (strcmp(point, "ingress") == 0)
		hook->attach_point = BPF_TC_INGRESS;
	else if (strcmp(point, "egress") == 0)
		hook->attach_point = BPF_TC_EGRESS;
	else
		return 0;
	opts->priority = prio;
	opts->handle = handle;
	return 1;
}

/* tcAttach(ifindex, "ingress"|"egress", priority, handle, progFd) -> program id. Creates
 * the clsact qdisc when missing and replaces the filter atomically when one exists. */
static napi_value tc_attach(napi_env env, napi_callback_info info)
{
	ARGS(5);
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	int32_t prog_fd;
	if (!get_hook(env, argv, argc, &hook, &opts) || argc < 5 ||
	    !get_i32(env, argv[4], &prog_fd))
		return throw_type(env, "tcAttach(ifindex, ingress|egress, priority, handle, progFd)");
	log_clear();
	int err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return throw_errno(env, err, "create clsact qdisc");
	opts.prog_fd = prog_fd;
	opts.flags = BPF_TC_F_REPLACE;
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		return throw_errno(env, err, "attach tc program");
	return num(env, opts.prog_id);
}

/* tcDetach(ifindex, point, priority, handle): removes our filter (a missing one is fine). */
static napi_value tc_detach(napi_env env, napi_callback_info info)
{
	ARGS(4);
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	if (!get_hook(env, argv, argc, &hook, &opts))
		return throw_type(env, "tcDetach(ifindex, ingress|egress, priority, handle)");
	log_clear();
	int err = bpf_tc_detach(&hook, &opts);
	if (err && err != -ENOENT && err != -EINVAL && err != -ENODEV)
		return throw_errno(env, err, "detach tc program");
	return NULL;
}

/* tcQuery(ifindex, point, priority, handle) -> attached program id, or 0. */
static napi_value tc_query(napi_env env, napi_callback_info info)
{
	ARGS(4);
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	if (!get_hook(env, argv, argc, &hook, &opts))
		return throw_type(env, "tcQuery(ifindex, ingress|egress, priority, handle)");
	log_clear();
	int err = bpf_tc_query(&hook, &opts);
	if (err == -ENOENT || err == -EINVAL)
		return num(env, 0);
	if (err)
		return throw_errno(env, err, "query tc filter");
	return num(env, opts.prog_id);
}

/* ---- tcx (Linux >= 6.6) --------------------------------------------------------------------
 * tcx runs programs straight from the device's ingress/egress hook, without the clsact
 * qdisc's classifier chain: measured ~5% more packets per CPU-second than a cls_bpf filter
 * for the same program (docs/benchmarks.md). Programs are attached without a link, so they
 * stay when the shim exits, and found again by name. The uapi headers we build against
 * predate tcx, so its attach types are spelled out here. */

#define PAL_BPF_TCX_INGRESS 46
#define PAL_BPF_TCX_EGRESS 47

static int tcx_hook(napi_env env, napi_value *argv, size_t argc, int32_t *ifindex, int *type,
		    char *name, size_t name_cap)
{
	char point[16];
	if (argc < 3 || !get_i32(env, argv[0], ifindex) ||
	    !get_str(env, argv[1], point, sizeof(point)) || !get_str(env, argv[2], name, name_cap))
		return 0;
	if (strcmp(point, "ingress") == 0)
		*type = PAL_BPF_TCX_INGRESS;
	else if (strcmp(point, "egress") == 0)
		*type = PAL_BPF_TCX_EGRESS;
	else
		return 0;
	return 1;
}

/* The fd of the program called `name` attached at a tcx hook, with its id; -ENOENT when
 * there is none, -EINVAL when the kernel has no tcx. */
static int tcx_find(int ifindex, int type, const char *name, __u32 *id)
{
	__u32 ids[64];
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = 64);
	if (bpf_prog_query_opts(ifindex, (enum bpf_attach_type)type, &q))
		return -errno;
	for (__u32 i = 0; i < q.prog_cnt && i < 64; i++) {
		int fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(pi);
		if (bpf_obj_get_info_by_fd(fd, &pi, &len) == 0 &&
		    strncmp(pi.name, name, sizeof(pi.name)) == 0) {
			*id = ids[i];
			return fd;
		}
		close(fd);
	}
	return -ENOENT;
}

/* tcxAttach(ifindex, "ingress"|"egress", name, progFd) -> program id. Replaces the program
 * of that name at the hook atomically (BPF_F_REPLACE) when there is one, else adds it.
 * Throws EINVAL when the kernel has no tcx. */
static napi_value tcx_attach(napi_env env, napi_callback_info info)
{
	ARGS(4);
	int32_t ifindex, prog_fd;
	int type;
	char name[64];
	if (!tcx_hook(env, argv, argc, &ifindex, &type, name, sizeof(name)) || argc < 4 ||
	    !get_i32(env, argv[3], &prog_fd))
		return throw_type(env, "tcxAttach(ifindex, ingress|egress, name, progFd)");
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len))
		return throw_errno(env, errno, "program info");
	__u32 old_id = 0;
	int old = tcx_find(ifindex, type, name, &old_id);
	if (old < 0 && old != -ENOENT)
		return throw_errno(env, -old, "query tcx programs");
	if (old >= 0 && old_id == pi.id) {
		close(old);
		return num(env, pi.id);
	}
	LIBBPF_OPTS(bpf_prog_attach_opts, o, .flags = old >= 0 ? BPF_F_REPLACE : 0,
		    .replace_prog_fd = old >= 0 ? old : 0);
	int err = bpf_prog_attach_opts(prog_fd, ifindex, (enum bpf_attach_type)type, &o);
	int e = errno;
	if (old >= 0)
		close(old);
	if (err)
		return throw_errno(env, e, "attach tcx program");
	return num(env, pi.id);
}

/* tcxDetach(ifindex, point, name): removes the program of that name (none is fine, and so
 * is a kernel without tcx). */
static napi_value tcx_detach(napi_env env, napi_callback_info info)
{
	ARGS(3);
	int32_t ifindex;
	int type;
	char name[64];
	if (!tcx_hook(env, argv, argc, &ifindex, &type, name, sizeof(name)))
		return throw_type(env, "tcxDetach(ifindex, ingress|egress, name)");
	__u32 id = 0;
	int fd = tcx_find(ifindex, type, name, &id);
	if (fd == -ENOENT || fd == -EINVAL || fd == -ENODEV)
		return NULL;
	if (fd < 0)
		return throw_errno(env, -fd, "query tcx programs");
	int err = bpf_prog_detach2(fd, ifindex, (enum bpf_attach_type)type);
	int e = errno;
	close(fd);
	if (err && e != ENOENT)
		return throw_errno(env, e, "detach tcx program");
	return NULL;
}

/* tcxQuery(ifindex, point, name) -> id of the program of that name at the hook, 0 when there
 * is none, -1 when the kernel has no tcx. */
static napi_value tcx_query(napi_env env, napi_callback_info info)
{
	ARGS(3);
	int32_t ifindex;
	int type;
	char name[64];
	if (!tcx_hook(env, argv, argc, &ifindex, &type, name, sizeof(name)))
		return throw_type(env, "tcxQuery(ifindex, ingress|egress, name)");
	__u32 id = 0;
	int fd = tcx_find(ifindex, type, name, &id);
	if (fd == -EINVAL)
		return num(env, -1);
	if (fd == -ENOENT)
		return num(env, 0);
	if (fd < 0)
		return throw_errno(env, -fd, "query tcx programs");
	close(fd);
	return num(env, id);
}

/* ---- ring buffer ------------------------------------------------------------------------- */

struct rb_handle {
	struct ring_buffer *rb;
	napi_env env;
	napi_value arr; /* valid only during consume */
	uint32_t n, max;
};

static int rb_cb(void *ctx, void *data, size_t size)
{
	struct rb_handle *h = ctx;
	if (h->n >= h->max)
		return 1; /* stop: the rest stays for the next call */
	napi_set_element(h->env, h->arr, h->n++, copy_buf(h->env, data, size));
	return 0;
}

static void rb_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	struct rb_handle *h = data;
	if (h->rb)
		ring_buffer__free(h->rb);
	free(h);
}

/* ringbufOpen(mapFd) -> handle. */
static napi_value ringbuf_open(napi_env env, napi_callback_info info)
{
	ARGS(1);
	int32_t fd;
	if (argc < 1 || !get_i32(env, argv[0], &fd))
		return throw_type(env, "ringbufOpen(mapFd)");
	struct rb_handle *h = calloc(1, sizeof(*h));
	log_clear();
	h->rb = ring_buffer__new(fd, rb_cb, h, NULL);
	if (!h->rb) {
		int e = errno;
		free(h);
		return throw_errno(env, e, "open ring buffer");
	}
	napi_value out;
	napi_create_external(env, h, rb_finalize, NULL, &out);
	return out;
}

/* ringbufConsume(handle, max) -> Buffer[]: the records waiting, without blocking. */
static napi_value ringbuf_consume(napi_env env, napi_callback_info info)
{
	ARGS(2);
	void *p = NULL;
	uint32_t max;
	if (argc < 2 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p ||
	    !get_u32(env, argv[1], &max))
		return throw_type(env, "ringbufConsume(handle, max)");
	struct rb_handle *h = p;
	if (!h->rb) {
		napi_throw_error(env, "ECLOSED", "ring buffer closed");
		return NULL;
	}
	napi_create_array(env, &h->arr);
	h->env = env;
	h->n = 0;
	h->max = max;
	int r = ring_buffer__consume(h->rb);
	napi_value arr = h->arr;
	h->arr = NULL;
	if (r < 0 && h->n == 0)
		return throw_errno(env, r, "consume ring buffer");
	return arr;
}

static napi_value ringbuf_close(napi_env env, napi_callback_info info)
{
	ARGS(1);
	void *p = NULL;
	if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p)
		return throw_type(env, "ringbufClose(handle)");
	struct rb_handle *h = p;
	if (h->rb) {
		ring_buffer__free(h->rb);
		h->rb = NULL;
	}
	return NULL;
}

/* ---- BTF --------------------------------------------------------------------------------- */

/* btfStruct(objPath, name) -> {size, members: [{name, offset}]} (offsets in bytes), or null
 * when the object's BTF has no such struct. */
static napi_value btf_struct(napi_env env, napi_callback_info info)
{
	ARGS(2);
	char path[4096], name[256];
	if (argc < 2 || !get_str(env, argv[0], path, sizeof(path)) ||
	    !get_str(env, argv[1], name, sizeof(name)))
		return throw_type(env, "btfStruct(objPath, name)");
	log_clear();
	struct btf *btf = btf__parse_elf(path, NULL);
	if (!btf)
		return throw_errno(env, errno, "parse BTF");
	__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	if (id < 0) {
		btf__free(btf);
		napi_value nul;
		napi_get_null(env, &nul);
		return nul;
	}
	const struct btf_type *t = btf__type_by_id(btf, id);
	napi_value o, arr;
	napi_create_object(env, &o);
	set_prop(env, o, "size", num(env, t->size));
	napi_create_array(env, &arr);
	const struct btf_member *m = btf_members(t);
	for (unsigned i = 0; i < btf_vlen(t); i++) {
		napi_value mo, s;
		napi_create_object(env, &mo);
		napi_create_string_utf8(env, btf__name_by_offset(btf, m[i].name_off),
					NAPI_AUTO_LENGTH, &s);
		set_prop(env, mo, "name", s);
		set_prop(env, mo, "offset", num(env, btf_member_bit_offset(t, i) / 8));
		__s64 sz = btf__resolve_size(btf, m[i].type);
		set_prop(env, mo, "size", num(env, (double)sz));
		napi_set_element(env, arr, i, mo);
	}
	set_prop(env, o, "members", arr);
	btf__free(btf);
	return o;
}

static napi_value libbpf_ver(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value s;
	napi_create_string_utf8(env, libbpf_version_string(), NAPI_AUTO_LENGTH, &s);
	return s;
}

/* ifindex(name) -> index of a network device in the caller's network namespace, or 0. */
static napi_value if_index(napi_env env, napi_callback_info info)
{
	ARGS(1);
	char name[IF_NAMESIZE + 1];
	if (argc < 1 || !get_str(env, argv[0], name, sizeof(name)))
		return throw_type(env, "ifindex(name)");
	return num(env, if_nametoindex(name));
}

/* ---- process memory ------------------------------------------------------------------------ */

/* mallocTune(mmapThreshold, trimThreshold): fixes glibc's thresholds. By default glibc raises
 * its mmap threshold to the largest block freed so far (up to 32 MiB), so after one large
 * read every later large block comes from the heap and stays resident after free. */
static napi_value malloc_tune(napi_env env, napi_callback_info info)
{
	ARGS(2);
	uint32_t mmap_threshold, trim_threshold;
	if (argc < 2 || !get_u32(env, argv[0], &mmap_threshold) ||
	    !get_u32(env, argv[1], &trim_threshold))
		return throw_type(env, "mallocTune(mmapThreshold, trimThreshold)");
	if (!mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) ||
	    !mallopt(M_TRIM_THRESHOLD, (int)trim_threshold))
		return throw_errno(env, EINVAL, "mallopt");
	return NULL;
}

/* mallocTrim() -> whether memory was given back: returns free heap pages to the kernel. */
static napi_value malloc_trim_all(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value v;
	napi_get_boolean(env, malloc_trim(0) == 1, &v);
	return v;
}

/* ---- module ------------------------------------------------------------------------------ */

static napi_value init(napi_env env, napi_value exports)
{
	libbpf_set_print(log_cb);
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	napi_property_descriptor d[] = {
#define F(js, c) { js, NULL, c, NULL, NULL, NULL, napi_enumerable, NULL }
		F("libbpfVersion", libbpf_ver),
		F("openObject", open_object),
		F("closeObject", close_object),
		F("objectMapFd", object_map_fd),
		F("objectProgFd", object_prog_fd),
		F("objGet", obj_get),
		F("closeFd", close_fd),
		F("mapInfo", map_info),
		F("progId", prog_id),
		F("numPossibleCpus", num_possible_cpus),
		F("mapLookup", map_lookup),
		F("mapUpdate", map_update),
		F("mapDelete", map_delete),
		F("mapDump", map_dump),
		F("mapDumpInto", map_dump_into),
		F("tcAttach", tc_attach),
		F("tcDetach", tc_detach),
		F("tcQuery", tc_query),
		F("tcxAttach", tcx_attach),
		F("tcxDetach", tcx_detach),
		F("tcxQuery", tcx_query),
		F("ringbufOpen", ringbuf_open),
		F("ringbufConsume", ringbuf_consume),
		F("ringbufClose", ringbuf_close),
		F("btfStruct", btf_struct),
		F("ifindex", if_index),
		F("mallocTune", malloc_tune),
		F("mallocTrim", malloc_trim_all),
#undef F
	};
	napi_define_properties(env, exports, sizeof(d) / sizeof(d[0]), d);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
