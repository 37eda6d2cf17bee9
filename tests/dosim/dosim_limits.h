/* Every bound on what dosim accepts or keeps, with its unit. */
#ifndef DOSIM_LIMITS_H
#define DOSIM_LIMITS_H

#define DOSIM_PATH_MAX      1024                  /* a file path, bytes */
#define DOSIM_DIR_MAX       (DOSIM_PATH_MAX + 64) /* a droplet's or image's folder */
#define DOSIM_FILE_MAX      (DOSIM_DIR_MAX + 64)  /* a file or folder in one */
#define DOSIM_NAME_MAX      255                   /* droplet, image, key or tag name, bytes */
#define DOSIM_USER_DATA_MAX (64UL * 1024)         /* user_data, bytes (the real API's limit) */
#define DOSIM_NAMES_MAX     10                    /* droplets in one multi-create */
#define DOSIM_RES_TAGS_MAX  64                    /* tags on one droplet or image */
#define DOSIM_SSH_KEYS_MAX  64                    /* keys named in one create */
#define DOSIM_PUBKEY_MAX    16384                 /* an SSH public key, bytes */
#define DOSIM_DROPLETS_MAX  500                   /* live droplets */
#define DOSIM_IMAGES_MAX    1000                  /* images, stock ones included */
#define DOSIM_ACTIONS_MAX   100000                /* actions kept (finished ones stay queryable) */
#define DOSIM_KEYS_MAX      1000                  /* SSH keys */
#define DOSIM_TAGS_MAX      1000                  /* tags */
#define DOSIM_PER_PAGE_MAX  200                   /* the API's page size maximum */
#define DOSIM_PER_PAGE_DEF  20                    /* ... and default */
#define DOSIM_YAML_NODES    20000                 /* YAML nodes visited (aliases count each time) */
#define DOSIM_YAML_DEPTH    32                    /* YAML nesting */
#define DOSIM_RUNCMD_MAX    256                   /* runcmd entries */
#define DOSIM_WRITES_MAX    256                   /* write_files entries */
#define DOSIM_ARGV_MAX      64                    /* words in one command */
#define DOSIM_LINE_MAX      8192                  /* one runcmd line, bytes */
#define DOSIM_DOWNLOAD_MAX  (512L << 20)          /* one curl download, bytes */
#define DOSIM_DOWNLOAD_S    120                   /* one curl download, seconds (default) */
#define DOSIM_LOG_TAIL      (64L * 1024)          /* bytes of a log the admin route returns */
#define DOSIM_TREE_DEPTH    64                    /* folder nesting copied in a snapshot */
#define DOSIM_STATE_MAX     (64L << 20)           /* state.json, bytes */
#define DOSIM_AGENT_STOP_MS 10000                 /* SIGTERM to SIGKILL for an agent, ms */
#define DOSIM_ALLOW_MAX     64                    /* --allow lines passed to an agent */
#define DOSIM_RL_BUCKETS    16                    /* tokens tracked by the rate limiter */

#endif
