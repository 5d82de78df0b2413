#!/usr/bin/env python3
"""bench/perf_categories.py - where does sluice's CPU time go? (stdlib only)

    python3 bench/perf_categories.py perf.data [--top N]

Reads a `perf record -e cpu-clock -g` profile of the sluice process and prints
markdown: self time grouped into categories (kernel per syscall, Beast
serializer, Beast parser, Asio machinery, malloc, simdjson, sluice's own
code, ...) and the top symbols. Kernel time is split by syscall using
inclusive (children) percentages of the syscall entry functions.
"""
import argparse
import collections
import re
import subprocess

# first match wins; user-space symbols only
USER_CATEGORIES = [
    ("sluice code (own functions)", r"^sluice::"),
    ("malloc/free", r"^(_int_malloc|_int_free|malloc|cfree|free|unlink_chunk|malloc_consolidate|_int_realloc|realloc|"
                    r"tcache\w*|operator new|operator delete)\b"),
    ("memcpy/memmove/memcmp/strlen", r"^__(mem|str)\w*|^(memcpy|memmove|memset|memcmp|strlen)\b"),
    ("Beast serializer: scatter/gather buffer views", r"buffers_cat_view|buffers_prefix|buffers_suffix|buffers_ref|"
                    r"http::serializer|chunk_crlf|mp_with_index|buffer_sequence_adapter|field_range|writer::"),
    ("Beast parser + header fields", r"basic_parser|parse_field|parse_token|basic_fields|parse_start_line|new_element|"
                    r"set_element|iequals|string_to_field|basic_parser_base|field_table"),
    ("simdjson", r"simdjson"),
    ("Asio: scheduler, reactor, timers, executors, coroutines", r"boost::asio|boost::beast::basic_stream|"
                    r"boost::intrusive|__vdso|clock_gettime|epoll_wait|pthread_mutex|any_io_executor|awaitable"),
    ("spdlog / fmt", r"spdlog|fmt::"),
]
SYSCALLS = [("sendmsg/writev (includes loopback delivery to the peer + its wake-up)", ["__sys_sendmsg", "do_writev"]),
            ("recvmsg/recvfrom", ["__sys_recvmsg", "__sys_recvfrom"]),
            ("epoll_wait (incl. sleeping/waking: context switch)", ["do_epoll_wait"]),
            ("epoll_ctl", ["do_epoll_ctl"]),
            ("timerfd_settime", ["do_timerfd_settime"]),
            ("accept/close/other", [])]


def perf_report(data, children):
    args = ["perf", "report", "-i", data, "--stdio", "--sort", "sym", "-g", "none", "--percent-limit", "0"]
    args.insert(4, "--children" if children else "--no-children")
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()

    self_rows = []
    for line in perf_report(a.data, False).splitlines():
        m = re.match(r"\s+([\d.]+)%\s+\[(.)\]\s+(.*?)\s*$", line)
        if m:
            self_rows.append((float(m.group(1)), m.group(2) == "k", m.group(3)))
    inclusive = {}
    for line in perf_report(a.data, True).splitlines():
        m = re.match(r"\s+([\d.]+)%\s+[\d.]+%\s+\[k\]\s+(\S+)\s*$", line)
        if m:
            inclusive[m.group(2)] = float(m.group(1))

    kernel = sum(p for p, k, _ in self_rows if k)
    cats = collections.Counter()
    examples = collections.defaultdict(list)
    for pct, is_kernel, sym in self_rows:
        if is_kernel:
            continue
        cat = "other user space (libstdc++, libc, ...)"
        for name, rx in USER_CATEGORIES:
            if re.search(rx, sym):
                cat = name
                break
        cats[cat] += pct
        examples[cat].append((pct, sym))

    print("| where | % of sluice CPU | biggest symbols |")
    print("|---|---:|---|")
    accounted = 0.0
    for name, funcs in SYSCALLS:
        if funcs:
            v = sum(inclusive.get(f, 0.0) for f in funcs)
            accounted += v
        else:
            v = max(kernel - accounted, 0.0)
        print(f"| kernel: {name} | {v:.1f} | |")
    for cat, v in sorted(cats.items(), key=lambda kv: -kv[1]):
        top = ", ".join(f"`{s[:70]}` {p:.1f}" for p, s in sorted(examples[cat], reverse=True)[:3])
        print(f"| {cat} | {v:.1f} | {top} |")
    print(f"| **total** (kernel {kernel:.1f} + user {100 - kernel:.1f}) | 100 | |")
    print()
    print(f"Top {a.top} symbols by self time:")
    print()
    print("| self % | symbol |")
    print("|---:|---|")
    for pct, is_kernel, sym in sorted(self_rows, reverse=True)[:a.top]:
        print(f"| {pct:.2f} | {'[k] ' if is_kernel else ''}`{sym[:140]}` |")


if __name__ == "__main__":
    main()
