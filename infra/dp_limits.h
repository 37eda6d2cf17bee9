/* Every buffer and every input from outside has a named limit, with its unit. */
#ifndef DP_LIMITS_H
#define DP_LIMITS_H

#define DP_ERR_CODE_MAX 40   /* short error code, bytes incl. NUL */
#define DP_ERR_MSG_MAX  320  /* error sentence, bytes incl. NUL */
#define DP_REQ_ID_MAX   64   /* request id, bytes */
#define DP_LOG_LINE_MAX 2048 /* one log line, bytes; longer lines are cut */

#define DP_BODY_MAX       (1UL * 1024 * 1024) /* JSON request body, bytes */
#define DP_JSON_DEPTH_MAX 32                  /* nesting of a JSON request */
#define DP_EVENT_MAX      (64UL * 1024)       /* one NDJSON/SSE event, bytes */
#define DP_HEARTBEAT_MS   5000                /* quiet time before a stream heartbeat, ms */

#define DP_KEY_MIN      16 /* agent key length, bytes */
#define DP_KEY_MAX      256
#define DP_KEY_FILE_MAX 4096 /* agent key file, bytes */

#define DP_PATH_MAX       1024 /* a path below the data root, bytes */
#define DP_NAME_MAX       63   /* container or app name, bytes */
#define DP_NAMESPACE_MAX  32   /* agent namespace, bytes */
#define DP_IMAGE_REF_MAX  255  /* image reference, bytes */
#define DP_LABELS_MAX     32   /* user labels on one container */
#define DP_LABEL_KEY_MAX  128
#define DP_LABEL_VAL_MAX  1024
#define DP_ENV_MAX        128 /* env vars on one container */
#define DP_ENV_KEY_MAX    255
#define DP_ENV_VAL_MAX    32768
#define DP_PORTS_MAX      32   /* published ports on one container */
#define DP_CMD_ARGS_MAX   64   /* command words */
#define DP_CMD_ARG_MAX    4096 /* one command word, bytes */
#define DP_BUILDARGS_MAX  64
#define DP_CREDENTIAL_MAX 1024 /* registry password or git token, bytes */
#define DP_URL_MAX        2048 /* git URL, bytes */

#define DP_UPLOAD_MAX_BYTES   (16ULL * 1024 * 1024 * 1024) /* unpacked upload, bytes */
#define DP_UPLOAD_MAX_ENTRIES 200000                       /* members in one upload */
#define DP_UPLOAD_MAX_NAME    1024                         /* one member name, bytes */
#define DP_UPLOAD_MAX_DEPTH   64                           /* directories in one member name */
/* Tar bytes received for one upload, bytes: the unpacked cap plus room for headers. */
#define DP_UPLOAD_MAX_BODY    (DP_UPLOAD_MAX_BYTES + 1ULL * 1024 * 1024 * 1024)
#define DP_UPLOAD_BLOCK       (64UL * 1024)        /* bytes pulled from the client per read */
#define DP_UPLOAD_TRAILER_MAX (1UL * 1024 * 1024)  /* bytes read past the tar's end */
#define DP_UPLOAD_LINGER_MAX  (64UL * 1024 * 1024) /* bytes dropped after a refusal */

#define DP_DOCKER_LINE_MAX   (1UL * 1024 * 1024) /* one line of a Docker JSON stream */
#define DP_DOCKER_REPLY_MAX  (8UL * 1024 * 1024) /* a whole non-streamed Docker answer */
#define DP_DOCKER_CONNECT_MS 5000
#define DP_LOG_TAIL_MAX      100000 /* lines of container log history */

#define DP_GIT_DEADLINE_S 600 /* a whole clone, seconds */
#define DP_GIT_STALL_S    60  /* no progress at all, seconds */

#define DP_AUTH_FAIL_MAX      10   /* failed logins from one address ... */
#define DP_AUTH_FAIL_WINDOW_S 60   /* ... within this window ... */
#define DP_AUTH_BLOCK_S       60   /* ... block it this long */
#define DP_AUTH_TABLE_SIZE    1024 /* addresses tracked at once */

#endif
