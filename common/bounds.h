/* Named bounds on everything a peer controls, checked by the server before
 * use and respected by the agent when it builds messages. */
#pragma once

#define AIO_HOST_NAME_MAX        253  /* a DNS name */
#define AIO_HOSTS_GLOB_MAX       1024 /* --hosts: globs, comma-separated */
#define AIO_LABELS_MAX           32   /* labels per host */
#define AIO_LABEL_KEY_MAX        63
#define AIO_LABEL_VALUE_MAX      255
#define AIO_KERNEL_MAX           128
#define AIO_VERSION_MAX          64
#define AIO_USERS_MAX            4096 /* AIO users (processes) per report */
#define AIO_EVENTS_MAX           256  /* AIO events per report */
/* reports in one ReportBatch, and the bytes the agent puts in one (the
 * envelope's own bound, 1 MiB, caps what a peer can send) */
#define AIO_REPORT_BATCH_MAX     1000
#define AIO_REPORT_BATCH_BYTES   (512 * 1024)
#define AIO_EVENT_LINE_MAX       1024 /* raw log line kept per event */
#define AIO_PATH_MAX             1024 /* file names in reports */
#define AIO_SETTINGS_MAX         64   /* sysctl files setting aio-max-nr */
#define AIO_INTERVAL_MIN_MS      100  /* report interval bounds */
#define AIO_INTERVAL_MAX_MS      (3600 * 1000)
/* how far in the past a sample may be (spool replay) and the future */
#define AIO_SAMPLE_PAST_MAX_MS   (31ULL * 24 * 3600 * 1000)
#define AIO_SAMPLE_FUTURE_MAX_MS (5ULL * 60 * 1000)
/* fs.aio-nr and fs.aio-max-nr a report may carry: far past any kernel's
 * (an unsigned long, set to millions at most), and low enough that sums
 * and rollups over a fleet of them never overflow */
#define AIO_COUNTER_MAX          (1ULL << 40)
/* a report's seq: a billion years of reports a second, and never near
 * the sign bit of the database's 64-bit integers */
#define AIO_SEQ_MAX              (1ULL << 62)
#define AIO_VM_NAME_MAX          128 /* a VM or process name */
#define AIO_DISK_MAX             128 /* a disk's node name */
#define AIO_EVENT_KEY_MAX        256 /* an event's de-duplication key */
#define AIO_INCIDENT_MAX         192 /* an event's incident: QEMU time and disk */
#define AIO_EVENT_SOURCES_MAX    8   /* sources merged into one incident */
/* a domain's AIO demand in contexts (main loop and iothreads) */
#define AIO_DOMAIN_CONTEXTS_MAX  1025
#define AIO_BASIS_MAX            95 /* how an AIO user's events were decided */
/* QEMU (5.0 and later) asks io_setup() for this many events per context;
 * the room that decides a VM start is counted in these */
#define AIO_CONTEXT_EVENTS       1024
/* the kernel's fs.aio-max-nr when nothing sets it */
#define AIO_KERNEL_DEFAULT_MAX   65536
