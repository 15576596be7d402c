/* bench_decode.c: the wire codec's cost per message, by type.
 *
 * Subject: ubc_wire_decode() of a datagram into a struct ubc_msg (every
 * check, every field). Baseline: memcpy of the same bytes into a struct
 * ubc_msg, the least any receive path must do, so the ratio is the codec's
 * overhead over a raw copy. Both loops walk the same ring of 256 datagrams
 * (distinct field values) and touch one decoded field per message. Also
 * measured: encode per type (same baseline) and the frame classifier on a
 * UDP frame carrying a job submit (with the UDP checksum verified in
 * software) against a memcpy of the frame. Medians of SAMPLES runs.
 * UBC_BENCH_QUICK=1: few iterations, for the perf-smoke test.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/ubc_bench.h"
#include "common/ubc_time.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_wire.h"
#include "tests/dataplane/wire_samples.h"

#define RING 256u
#define SAMPLES 7u

static uint8_t datagrams[RING][UBC_WIRE_DATAGRAM_MAX];
static size_t datagram_len[RING];
static struct ubc_msg messages[RING];
static volatile uint64_t sink;

static void
ring_fill(uint16_t type)
{
    const struct ubc_wire_origin origin = { .sender_id = 3, .session_id = 4 };
    for (uint32_t i = 0; i < RING; i++) {
        ubc_wire_sample(&messages[i], type, i);
        UBC_ASSERT(ubc_wire_encode(&messages[i], &origin, datagrams[i], UBC_WIRE_DATAGRAM_MAX,
                                   &datagram_len[i]) == UBC_WIRE_OK);
    }
}

static double
time_decode(uint64_t iterations)
{
    const struct ubc_wire_policy policy = { .require_tag = false };
    struct ubc_wire_header header;
    struct ubc_msg msg;
    uint64_t acc = 0;
    uint64_t start = ubc_time_monotonic_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        uint32_t slot = (uint32_t)(i % RING);
        enum ubc_wire_result r =
            ubc_wire_decode(datagrams[slot], datagram_len[slot], &policy, &header, &msg);
        acc += (uint64_t)r + msg.hdr.seq + msg.u.bytes[0];
    }
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    sink = acc;
    return (double)elapsed / (double)iterations;
}

static double
time_encode(uint64_t iterations)
{
    const struct ubc_wire_origin origin = { .sender_id = 3, .session_id = 4 };
    uint8_t out[UBC_WIRE_DATAGRAM_MAX];
    uint64_t acc = 0;
    uint64_t start = ubc_time_monotonic_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        size_t len = 0;
        ubc_wire_encode(&messages[i % RING], &origin, out, sizeof(out), &len);
        acc += len + out[UBC_WIRE_HEADER_BYTES];
    }
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    sink = acc;
    return (double)elapsed / (double)iterations;
}

/* The baseline: the same bytes copied into a message, one field touched. */
static double
time_memcpy(uint64_t iterations)
{
    struct ubc_msg msg;
    uint64_t acc = 0;
    uint64_t start = ubc_time_monotonic_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        uint32_t slot = (uint32_t)(i % RING);
        memcpy(&msg, datagrams[slot], datagram_len[slot]);
        __asm__ volatile("" : : "r"(&msg) : "memory"); /* the copy must happen */
        acc += msg.hdr.seq + msg.u.bytes[0];
    }
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    sink = acc;
    return (double)elapsed / (double)iterations;
}

static void
emit(const char *metric, const char *type_name, double subject_ns, double baseline_ns,
     uint64_t iterations)
{
    struct ubc_bench_result r = { .harness = "decode",
                                  .metric = metric,
                                  .value = subject_ns,
                                  .unit = "ns",
                                  .lower_is_better = 1,
                                  .baseline = "memcpy",
                                  .baseline_value = baseline_ns,
                                  .samples = SAMPLES };
    ubc_bench_param_text(&r, "type", type_name);
    ubc_bench_param_num(&r, "iterations", (double)iterations);
    ubc_bench_param_num(&r, "bytes", (double)datagram_len[0]);
    ubc_bench_emit(&r);
}

typedef double (*timer_fn)(uint64_t iterations);

static double
median_of(timer_fn timer, uint64_t iterations)
{
    double samples[SAMPLES];
    for (uint32_t s = 0; s < SAMPLES; s++)
        samples[s] = timer(iterations);
    return ubc_bench_median(samples, SAMPLES);
}

static void
bench_types(uint64_t iterations)
{
    for (size_t t = 0; t < UBC_ARRAY_SIZE(ubc_wire_sample_types); t++) {
        uint16_t type = ubc_wire_sample_types[t];
        ring_fill(type);
        time_decode(iterations / 10); /* warm-up */
        double decode_ns = median_of(time_decode, iterations);
        double encode_ns = median_of(time_encode, iterations);
        double copy_ns = median_of(time_memcpy, iterations);
        char decode_metric[64], encode_metric[64];
        snprintf(decode_metric, sizeof(decode_metric), "decode_ns.%s", ubc_msg_type_name(type));
        snprintf(encode_metric, sizeof(encode_metric), "encode_ns.%s", ubc_msg_type_name(type));
        emit(decode_metric, ubc_msg_type_name(type), decode_ns, copy_ns, iterations);
        emit(encode_metric, ubc_msg_type_name(type), encode_ns, copy_ns, iterations);
    }
}

static uint8_t frame[256];
static size_t frame_len;
static struct ubc_pkt_self node_self;

static void
frame_fill(void)
{
    struct ubc_pkt_self client = { .mac = { 2, 0, 0, 0, 0, 2 } };
    client.ipv4_be = htonl(0x0a000002);
    client.udp_port_be = htons(40000);
    node_self = (struct ubc_pkt_self){ .mac = { 2, 0, 0, 0, 0, 1 } };
    node_self.ipv4_be = htonl(0x0a000001);
    node_self.udp_port_be = htons(UBC_WIRE_PORT_DEFAULT);
    struct ubc_pkt_peer to = { .ipv4_be = node_self.ipv4_be, .udp_port_be = node_self.udp_port_be };
    memcpy(to.mac, node_self.mac, 6);
    ring_fill(UBC_MSG_JOB_SUBMIT);
    size_t offset = ubc_pkt_udp_payload_offset(false);
    memcpy(frame + offset, datagrams[0], datagram_len[0]);
    frame_len = ubc_pkt_udp_build(frame, sizeof(frame), &client, &to, false, 0, datagram_len[0], 0);
    UBC_ASSERT(frame_len != 0);
}

static double
time_classify(uint64_t iterations)
{
    struct ubc_pkt_info info;
    uint64_t acc = 0;
    uint64_t start = ubc_time_monotonic_ns();
    for (uint64_t i = 0; i < iterations; i++)
        acc += ubc_pkt_classify(frame, frame_len, &node_self, 0, &info) + info.payload_len;
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    sink = acc;
    return (double)elapsed / (double)iterations;
}

static double
time_frame_memcpy(uint64_t iterations)
{
    uint8_t copy[256];
    uint64_t acc = 0;
    uint64_t start = ubc_time_monotonic_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        memcpy(copy, frame, frame_len);
        __asm__ volatile("" : : "r"(copy) : "memory");
        acc += copy[i % frame_len];
    }
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    sink = acc;
    return (double)elapsed / (double)iterations;
}

int
main(void)
{
    uint64_t iterations = ubc_bench_quick() ? 20000 : 2000000;
    bench_types(iterations);
    frame_fill();
    double classify_ns = median_of(time_classify, iterations);
    double copy_ns = median_of(time_frame_memcpy, iterations);
    struct ubc_bench_result r = { .harness = "decode",
                                  .metric = "classify_ns.udp-job-submit",
                                  .value = classify_ns,
                                  .unit = "ns",
                                  .lower_is_better = 1,
                                  .baseline = "memcpy",
                                  .baseline_value = copy_ns,
                                  .samples = SAMPLES };
    ubc_bench_param_text(&r, "frame", "udp-job-submit");
    ubc_bench_param_num(&r, "bytes", (double)frame_len);
    ubc_bench_emit(&r);
    return 0;
}
