/* ubc_admin_request.c: request parsing, dispatch to handlers, the built-in
 * commands and id-list parsing. Runs on the control thread (requests) or on
 * the caller's thread (parsing of id lists); see ubc_admin_private.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "control/ubc_admin_private.h"

static const char *const ubc_admin_error_names[UBC_ADMIN_ERR_COUNT] = {
    [UBC_ADMIN_OK] = "ok",
    [UBC_ADMIN_ERR_BAD_JSON] = "bad-json",
    [UBC_ADMIN_ERR_BAD_REQUEST] = "bad-request",
    [UBC_ADMIN_ERR_UNKNOWN_COMMAND] = "unknown-command",
    [UBC_ADMIN_ERR_BAD_ARGS] = "bad-args",
    [UBC_ADMIN_ERR_TOO_LARGE] = "too-large",
    [UBC_ADMIN_ERR_DENIED] = "denied",
    [UBC_ADMIN_ERR_BUSY] = "busy",
    [UBC_ADMIN_ERR_INTERNAL] = "internal",
    [UBC_ADMIN_ERR_NOT_FOUND] = "not-found",
    [UBC_ADMIN_ERR_UNAVAILABLE] = "unavailable",
};

const char *
ubc_admin_error_name(int code)
{
    if (code < 0 || code >= UBC_ADMIN_ERR_COUNT)
        return "internal";
    UBC_ASSERT(ubc_admin_error_names[code] != NULL);
    return ubc_admin_error_names[code];
}

static json_t *
admin_json_checked(json_t *value)
{
    /* Only allocation can fail here; the control plane cannot answer anyone
     * without memory, so it stops loudly rather than replying wrongly. */
    UBC_ASSERT(value != NULL);
    return value;
}

/* Error messages come from handlers and from jansson: keep them one line of
 * printable ASCII so the reply stays one line and valid UTF-8. */
static json_t *
admin_message_string(const char *message)
{
    char clean[UBC_ADMIN_ERROR_BYTES_MAX];
    size_t length = 0;
    for (; message[length] != '\0' && length + 1 < sizeof(clean); length++) {
        unsigned char byte = (unsigned char)message[length];
        clean[length] = (byte >= 0x20 && byte < 0x7f) ? (char)byte : '?';
    }
    clean[length] = '\0';
    return admin_json_checked(json_string(clean));
}

static json_t *
admin_reply_error(struct ubc_admin *admin, json_t *id, int code, const char *message)
{
    UBC_ASSERT(code > UBC_ADMIN_OK && code < UBC_ADMIN_ERR_COUNT);
    UBC_ADMIN_COUNT(admin, errors[code]);
    json_t *error = admin_json_checked(json_object());
    json_object_set_new(error, "code", admin_json_checked(json_string(ubc_admin_error_name(code))));
    json_object_set_new(error, "message", admin_message_string(message));
    json_t *reply = admin_json_checked(json_object());
    json_object_set(reply, "id", id != NULL ? id : json_null());
    json_object_set_new(reply, "ok", json_false());
    json_object_set_new(reply, "error", error);
    return reply;
}

static json_t *
admin_reply_ok(struct ubc_admin *admin, json_t *id, json_t *result)
{
    UBC_ADMIN_COUNT(admin, replies_ok);
    json_t *reply = admin_json_checked(json_object());
    json_object_set(reply, "id", id != NULL ? id : json_null());
    json_object_set_new(reply, "ok", json_true());
    json_object_set_new(reply, "result", result != NULL ? result : json_object());
    return reply;
}

static const struct ubc_admin_command *
admin_command_find(struct ubc_admin *admin, const char *name)
{
    uint32_t count = __atomic_load_n(&admin->command_count, __ATOMIC_ACQUIRE);
    UBC_ASSERT(count <= admin->config.commands_max);
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(admin->commands[i].name, name) == 0)
            return &admin->commands[i];
    }
    return NULL;
}

/* Maps a handler's return value onto a protocol code. */
static int
admin_handler_code(int status)
{
    if (status > UBC_ADMIN_OK && status < UBC_ADMIN_ERR_COUNT)
        return status;
    switch (status) {
    case -EINVAL:
    case -ERANGE: return UBC_ADMIN_ERR_BAD_ARGS;
    case -ENOENT:
    case -ESRCH: return UBC_ADMIN_ERR_NOT_FOUND;
    case -EBUSY:
    case -EAGAIN: return UBC_ADMIN_ERR_BUSY;
    default: return UBC_ADMIN_ERR_INTERNAL;
    }
}

static json_t *
admin_call(struct ubc_admin *admin, const struct ubc_admin_command *command, json_t *id,
           const json_t *args, struct ubc_admin_request_info *info)
{
    char error[UBC_ADMIN_ERROR_BYTES_MAX];
    error[0] = '\0';
    json_t *result = NULL;
    uint64_t start_ns = ubc_time_monotonic_ns();
    int status = command->fn(command->ctx, args, &result, error, sizeof(error));
    info->handler_ns = ubc_time_monotonic_ns() - start_ns;
    /* Only the control thread writes it: a plain load and store suffice. */
    if (info->handler_ns > __atomic_load_n(&admin->counters.handler_ns_max, __ATOMIC_RELAXED))
        __atomic_store_n(&admin->counters.handler_ns_max, info->handler_ns, __ATOMIC_RELAXED);
    if (status == 0)
        return admin_reply_ok(admin, id, result);
    json_decref(result);
    error[sizeof(error) - 1] = '\0';
    int code = admin_handler_code(status);
    info->code = code;
    if (error[0] == '\0')
        snprintf(error, sizeof(error), "%s failed (%s)", command->name, ubc_admin_error_name(code));
    return admin_reply_error(admin, id, code, error);
}

/* Checks the request's shape. Returns 0, or an error code with a message;
 * *id is set (borrowed) as soon as a valid id is seen so errors can echo it. */
static int
admin_request_check(json_t *request, json_t **id, const char **name, json_t **args, char *message,
                    size_t message_cap)
{
    if (!json_is_object(request)) {
        snprintf(message, message_cap, "a request is a JSON object");
        return UBC_ADMIN_ERR_BAD_REQUEST;
    }
    json_t *id_value = json_object_get(request, "id");
    if (id_value != NULL && !json_is_integer(id_value) && !json_is_string(id_value) &&
        !json_is_null(id_value)) {
        snprintf(message, message_cap, "\"id\" must be an integer, a string or null");
        return UBC_ADMIN_ERR_BAD_REQUEST;
    }
    *id = id_value;
    const char *key;
    json_t *value;
    json_object_foreach(request, key, value)
    {
        if (strcmp(key, "cmd") != 0 && strcmp(key, "args") != 0 && strcmp(key, "id") != 0) {
            snprintf(message, message_cap, "unknown key \"%.64s\" in request", key);
            return UBC_ADMIN_ERR_BAD_REQUEST;
        }
    }
    json_t *command = json_object_get(request, "cmd");
    if (!json_is_string(command) || json_string_length(command) == 0 ||
        json_string_length(command) >= UBC_ADMIN_NAME_BYTES_MAX) {
        snprintf(message, message_cap, "\"cmd\" must be a command name (string)");
        return UBC_ADMIN_ERR_BAD_REQUEST;
    }
    *name = json_string_value(command);
    json_t *args_value = json_object_get(request, "args");
    if (args_value != NULL && !json_is_object(args_value) && !json_is_null(args_value)) {
        snprintf(message, message_cap, "\"args\" must be an object");
        return UBC_ADMIN_ERR_BAD_REQUEST;
    }
    *args = json_is_object(args_value) ? args_value : NULL;
    return UBC_ADMIN_OK;
}

json_t *
ubc_admin_request_handle(struct ubc_admin *admin, const char *line, size_t length,
                         struct ubc_admin_request_info *info)
{
    UBC_ASSERT(admin->magic == UBC_ADMIN_MAGIC);
    UBC_ASSERT(length <= admin->config.request_bytes_max);
    struct ubc_admin_request_info unused;
    info = info != NULL ? info : &unused;
    memset(info, 0, sizeof(*info));
    UBC_ADMIN_COUNT(admin, requests);
    char message[UBC_ADMIN_ERROR_BYTES_MAX];
    json_error_t parse_error;
    json_t *request = json_loadb(line, length, JSON_REJECT_DUPLICATES, &parse_error);
    if (request == NULL) {
        snprintf(message, sizeof(message), "%s at byte %d", parse_error.text, parse_error.position);
        info->code = UBC_ADMIN_ERR_BAD_JSON;
        return admin_reply_error(admin, NULL, UBC_ADMIN_ERR_BAD_JSON, message);
    }
    json_t *id = NULL;
    json_t *args = NULL;
    const char *name = NULL;
    json_t *reply;
    info->code = admin_request_check(request, &id, &name, &args, message, sizeof(message));
    if (info->code != UBC_ADMIN_OK) {
        reply = admin_reply_error(admin, id, info->code, message);
    } else {
        snprintf(info->command, sizeof(info->command), "%s", name);
        const struct ubc_admin_command *command = admin_command_find(admin, name);
        if (command == NULL) {
            snprintf(message, sizeof(message), "no command \"%s\" (try \"help\")", name);
            info->code = UBC_ADMIN_ERR_UNKNOWN_COMMAND;
            reply = admin_reply_error(admin, id, UBC_ADMIN_ERR_UNKNOWN_COMMAND, message);
        } else {
            json_t *empty = args == NULL ? admin_json_checked(json_object()) : NULL;
            reply = admin_call(admin, command, id, args != NULL ? args : empty, info);
            json_decref(empty);
        }
    }
    json_decref(request);
    return reply;
}

char *
ubc_admin_reply_encode(struct ubc_admin *admin, json_t *reply, size_t *length)
{
    char *text = json_dumps(reply, JSON_COMPACT);
    if (text != NULL && strlen(text) <= admin->config.reply_bytes_max) {
        *length = strlen(text);
        return text;
    }
    /* The reply was counted as ok (or as its error) already; a reply that
     * cannot be sent is rare enough that counting it twice is acceptable. */
    char message[UBC_ADMIN_ERROR_BYTES_MAX];
    if (text != NULL)
        snprintf(message, sizeof(message), "reply of %zu bytes exceeds the limit of %u bytes",
                 strlen(text), admin->config.reply_bytes_max);
    else
        snprintf(message, sizeof(message), "reply could not be encoded");
    int code = text != NULL ? UBC_ADMIN_ERR_TOO_LARGE : UBC_ADMIN_ERR_INTERNAL;
    free(text);
    json_t *error = admin_reply_error(admin, json_object_get(reply, "id"), code, message);
    text = json_dumps(error, JSON_COMPACT);
    json_decref(error);
    UBC_ASSERT(text != NULL);
    *length = strlen(text);
    return text;
}

int
ubc_admin_error_line(char *buffer, size_t cap, int code, const char *message)
{
    /* message is ours (no quotes or control characters), so no escaping. */
    UBC_ASSERT(strchr(message, '"') == NULL && strchr(message, '\\') == NULL);
    int length = snprintf(buffer, cap,
                          "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"%s\","
                          "\"message\":\"%s\"}}\n",
                          ubc_admin_error_name(code), message);
    UBC_ASSERT(length > 0 && (size_t)length < cap);
    return length;
}

/* ---- built-in commands ---- */

static int
admin_command_compare(const void *left, const void *right)
{
    const struct ubc_admin_command *const *a = left;
    const struct ubc_admin_command *const *b = right;
    return strcmp((*a)->name, (*b)->name);
}

static json_t *
admin_command_describe(const struct ubc_admin_command *command)
{
    json_t *entry = admin_json_checked(json_object());
    json_object_set_new(entry, "command", admin_json_checked(json_string(command->name)));
    json_object_set_new(entry, "usage", admin_json_checked(json_string(command->usage)));
    json_object_set_new(entry, "help", admin_json_checked(json_string(command->help)));
    return entry;
}

static json_t *
admin_help_list(struct ubc_admin *admin)
{
    uint32_t count = __atomic_load_n(&admin->command_count, __ATOMIC_ACQUIRE);
    const struct ubc_admin_command **sorted = calloc(count, sizeof(*sorted));
    UBC_ASSERT(sorted != NULL);
    for (uint32_t i = 0; i < count; i++)
        sorted[i] = &admin->commands[i];
    qsort(sorted, count, sizeof(*sorted), admin_command_compare);
    json_t *list = admin_json_checked(json_array());
    for (uint32_t i = 0; i < count; i++)
        json_array_append_new(list, admin_command_describe(sorted[i]));
    free(sorted);
    json_t *result = admin_json_checked(json_object());
    json_object_set_new(result, "commands", list);
    return result;
}

static int
admin_help(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    struct ubc_admin *admin = ctx;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)args, key, value)
    {
        if (strcmp(key, "command") != 0) {
            snprintf(error, error_cap, "unknown argument \"%.64s\" (usage: [command=NAME])", key);
            return UBC_ADMIN_ERR_BAD_ARGS;
        }
    }
    json_t *name = json_object_get(args, "command");
    if (name == NULL) {
        *result = admin_help_list(admin);
        return 0;
    }
    if (!json_is_string(name)) {
        snprintf(error, error_cap, "\"command\" must be a string");
        return UBC_ADMIN_ERR_BAD_ARGS;
    }
    const struct ubc_admin_command *command = admin_command_find(admin, json_string_value(name));
    if (command == NULL) {
        snprintf(error, error_cap, "no command \"%.64s\" (try \"help\")", json_string_value(name));
        return UBC_ADMIN_ERR_UNKNOWN_COMMAND;
    }
    *result = admin_command_describe(command);
    return 0;
}

static int
admin_version(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    struct ubc_admin *admin = ctx;
    if (json_object_size(args) != 0) {
        snprintf(error, error_cap, "version takes no arguments");
        return UBC_ADMIN_ERR_BAD_ARGS;
    }
    json_t *object = admin_json_checked(json_object());
    json_object_set_new(object, "name", admin_json_checked(json_string("ubcd")));
    json_object_set_new(object, "version", admin_json_checked(json_string(admin->version)));
    json_object_set_new(object, "protocol", json_integer(UBC_ADMIN_PROTOCOL_VERSION));
    *result = object;
    return 0;
}

int
ubc_admin_register_builtins(struct ubc_admin *admin)
{
    int status = ubc_admin_register(admin, "help", "[command=NAME]",
                                    "list the commands, or show one command's usage and help",
                                    admin_help, admin);
    if (status != 0)
        return status;
    return ubc_admin_register(admin, "version", "", "the node's version and protocol version",
                              admin_version, admin);
}

/* ---- id lists ---- */

static int
admin_id_parse_number(const char *text, uint32_t *id)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    /* (uid_t)-1 means "no change" to chown and is never a real id. */
    if (errno != 0 || *end != '\0' || value >= UINT32_MAX)
        return -EINVAL;
    *id = (uint32_t)value;
    return 0;
}

static int
admin_id_parse_name(const char *text, bool group, uint32_t *id)
{
    char buffer[16384];
    if (group) {
        struct group entry, *found = NULL;
        if (getgrnam_r(text, &entry, buffer, sizeof(buffer), &found) != 0 || found == NULL)
            return -EINVAL;
        *id = (uint32_t)found->gr_gid;
    } else {
        struct passwd entry, *found = NULL;
        if (getpwnam_r(text, &entry, buffer, sizeof(buffer), &found) != 0 || found == NULL)
            return -EINVAL;
        *id = (uint32_t)found->pw_uid;
    }
    return 0;
}

static int
admin_ids_parse(const char *text, bool group, uint32_t *ids, uint32_t cap, uint32_t *count)
{
    *count = 0;
    if (text == NULL)
        return 0;
    const char *cursor = text;
    while (*cursor != '\0') {
        while (*cursor == ' ' || *cursor == '\t' || *cursor == ',')
            cursor++;
        size_t length = strcspn(cursor, ", \t");
        if (length == 0)
            break;
        char token[256];
        if (length >= sizeof(token))
            return -EINVAL;
        memcpy(token, cursor, length);
        token[length] = '\0';
        cursor += length;
        if (*count == cap)
            return -ENOSPC;
        uint32_t id;
        int status = (token[0] >= '0' && token[0] <= '9') ? admin_id_parse_number(token, &id)
                                                          : admin_id_parse_name(token, group, &id);
        if (status != 0)
            return status;
        ids[(*count)++] = id;
    }
    return 0;
}

int
ubc_admin_parse_uids(const char *text, uint32_t *ids, uint32_t cap, uint32_t *count)
{
    return admin_ids_parse(text, false, ids, cap, count);
}

int
ubc_admin_parse_gids(const char *text, uint32_t *ids, uint32_t cap, uint32_t *count)
{
    return admin_ids_parse(text, true, ids, cap, count);
}
