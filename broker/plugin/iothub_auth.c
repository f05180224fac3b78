/*
 * iothub_auth: the Mosquitto 2.0 plugin (API version 5) that lets the IoT Hub Console
 * decide who connects.
 *
 * The console decides. On every CONNECT the plugin POSTs what the broker knows about the
 * client (client id, username, password, peer address, listener, the leaf certificate
 * as PEM) to <console>/broker/v1/authenticate. The console checks the certificate chain
 * against the product's CA, the registered certificate, the Key device's HMAC, the client
 * id, whether the device is enabled and its product not forbidden, records refusals, and
 * answers allow (with the device's topic ACL) or deny.
 *
 * The plugin merely enforces. It keeps the ACL it was given for each connected client and
 * answers every publish, delivery and subscribe check from it, without asking again. It
 * reports connects and disconnects to <console>/broker/v1/events, and polls
 * <console>/broker/v1/commands for the clients to kick (revoked devices, forbidden
 * products) and the messages to publish. It caches no decision: a client the console
 * cannot be asked about (unreachable, timeout, an error) is refused; clients already
 * connected stay connected. Nobody is let in before the plugin knows the newest command
 * id, so that no revocation issued after a client was allowed can be skipped.
 *
 * Threads: Mosquitto calls every callback on its single main thread. Authentication is
 * the one blocking request made there (a keep-alive connection with short timeouts). A
 * background thread sends the event batches and polls commands; it hands kicks and
 * publishes back through a mutex-protected queue that MOSQ_EVT_TICK drains, because
 * Mosquitto's broker functions may only be called on the main thread.
 *
 * Options: plugin_opt_console_url, plugin_opt_token_file (the bearer token),
 * plugin_opt_broker_id (names this broker to the console).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define REQUEST_TIMEOUT_MS 2000L
#define CONNECT_TIMEOUT_MS 1000L
#define BACKGROUND_INTERVAL_MS 200L
#define MAX_RESPONSE_BYTES (4L * 1024 * 1024)
/* Events waiting while the console is unreachable are capped so memory stays bounded. */
#define MAX_PENDING_EVENTS 100000
/* The console refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE; a batch of this many
 * events stays far below it, and the rest waits, in order, for the next round. */
#define EVENTS_PER_POST 1000
#define COMMANDS_PER_POLL 1000
/* The console sends again the commands of its last 5 s (a lower id can commit late);
 * ids applied are remembered longer than that, so each is applied once. */
#define REMEMBER_APPLIED_MS 30000LL

/* ---- One connected client and the ACL the console returned for it ---- */

struct acl_rule {
	int access;   /* MOSQ_ACL_* bits this rule allows */
	char *filter; /* an MQTT topic filter */
};

struct client_entry {
	char *client_id;
	const struct mosquitto *client; /* which connection the ACL belongs to */
	struct acl_rule *rules;
	int rule_count;
	bool kicked;
	struct client_entry *next;
};

/* Connected clients by client id: a chained hash table that doubles as it fills. */
struct client_table {
	struct client_entry **buckets;
	size_t bucket_count;
	size_t count;
};

/* ---- What the background thread hands to the main thread ---- */

enum action_kind { ACTION_KICK, ACTION_KICK_PREFIX, ACTION_PUBLISH };

struct action {
	enum action_kind kind;
	char *text; /* client id, prefix, or topic */
	unsigned char *payload;
	int payload_length;
	int qos;
	bool retain;
	struct action *next;
};

struct buffer {
	char *data;
	size_t length;
	bool too_large;
};

/* Command ids already applied, oldest first in a ring that grows when every id in it
 * is still younger than REMEMBER_APPLIED_MS (background thread only). */
struct applied_ids {
	long long *ids;
	long long *at_ms;
	size_t capacity;
	size_t start;
	size_t count;
	long long highest;
};

struct plugin_state {
	mosquitto_plugin_id_t *identifier;
	char *console_url;
	char *broker_id;
	struct curl_slist *headers; /* Authorization and Content-Type */
	CURL *auth_curl;            /* main thread only */
	struct client_table clients; /* main thread only */

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	bool stopping;
	/* The newest command id when the plugin started listening for commands; until it is
	 * known, no client is let in (a revocation issued before it would be missed). */
	long long start_cursor;
	bool commands_ready;
	cJSON *pending_events;
	int pending_count; /* items in pending_events: cJSON_GetArraySize walks the list */
	struct action *actions_head;
	struct action *actions_tail;
};

static struct plugin_state *state;

/* ---- Small helpers ---- */

static long long now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static size_t hash_string(const char *text)
{
	size_t hash = 1469598103934665603ULL; /* FNV-1a */
	for (; *text; text++) {
		hash = (hash ^ (unsigned char)*text) * 1099511628211ULL;
	}
	return hash;
}

static size_t collect_response(char *data, size_t size, size_t count, void *userdata)
{
	struct buffer *buffer = userdata;
	size_t length = size * count;
	if (buffer->length + length > (size_t)MAX_RESPONSE_BYTES) {
		buffer->too_large = true;
		return 0; /* curl then fails the request: an oversized answer is not trusted */
	}
	char *grown = realloc(buffer->data, buffer->length + length + 1);
	if (grown == NULL) {
		return 0;
	}
	buffer->data = grown;
	memcpy(buffer->data + buffer->length, data, length);
	buffer->length += length;
	buffer->data[buffer->length] = '\0';
	return length;
}

static CURL *new_curl(void)
{
	CURL *curl = curl_easy_init();
	if (curl == NULL) {
		return NULL;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, state->headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_response);
	return curl;
}

/* Only the background thread touches this. */
static bool background_failing = false;

/* Mosquitto's logging may only be called on its main thread. The background thread writes to
 * stderr (Mosquitto's log goes there too) when the console stops or starts answering, rather
 * than twice every 200 ms while it is down. */
static void log_request(bool main_thread, bool failed, const char *url, const char *what)
{
	if (main_thread) {
		if (failed) {
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub_auth: %s: %s", url, what);
		}
		return;
	}
	if (failed && !background_failing) {
		fprintf(stderr, "iothub_auth: %s: %s (said once until the console answers again)\n", url, what);
	} else if (!failed && background_failing) {
		fprintf(stderr, "iothub_auth: the console answers again\n");
	}
	background_failing = failed;
}

/* POST `body` (or GET when NULL) and parse the JSON answer; NULL unless the status is 200.
 * `too_large` (when not NULL) says whether the answer went over MAX_RESPONSE_BYTES. */
static cJSON *request_json(CURL *curl, const char *url, const char *body, bool main_thread, bool *too_large)
{
	struct buffer response = {NULL, 0, false};
	long status = 0;
	cJSON *parsed = NULL;
	char what[64];

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	}
	CURLcode code = curl_easy_perform(curl);
	if (code != CURLE_OK) {
		log_request(main_thread, true, url, curl_easy_strerror(code));
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200 && response.data != NULL) {
			parsed = cJSON_Parse(response.data);
		}
		snprintf(what, sizeof(what), "answered HTTP %ld%s", status, status == 200 ? " with no JSON" : "");
		log_request(main_thread, parsed == NULL, url, what);
	}
	free(response.data);
	if (too_large != NULL) {
		*too_large = response.too_large;
	}
	return parsed;
}

static char *endpoint(const char *path)
{
	size_t length = strlen(state->console_url) + strlen(path) + 1;
	char *url = malloc(length);
	if (url != NULL) {
		snprintf(url, length, "%s%s", state->console_url, path);
	}
	return url;
}

/* ---- Topic filters ---- */

/* Whether ACL filter `allowed` covers `requested` (a topic, or a filter being subscribed):
 * level by level, '#' covers the rest, '+' covers one level that is not '#', literals equal. */
static bool filter_covers(const char *allowed, const char *requested)
{
	const char *a = allowed;
	const char *r = requested;
	for (;;) {
		size_t a_len = strcspn(a, "/");
		size_t r_len = strcspn(r, "/");
		if (a_len == 1 && a[0] == '#') {
			return true;
		}
		if (a_len == 1 && a[0] == '+') {
			if (r_len == 1 && r[0] == '#') {
				return false;
			}
		} else if (a_len != r_len || strncmp(a, r, a_len) != 0) {
			return false;
		}
		bool a_more = a[a_len] == '/';
		bool r_more = r[r_len] == '/';
		if (!r_more) {
			/* "a/#" also covers its parent "a", as MQTT matching does. */
			return !a_more || strcmp(a + a_len, "/#") == 0;
		}
		if (!a_more) {
			return false;
		}
		a += a_len + 1;
		r += r_len + 1;
	}
}

/* ---- The client table (main thread) ---- */

static void free_entry(struct client_entry *entry)
{
	for (int i = 0; i < entry->rule_count; i++) {
		free(entry->rules[i].filter);
	}
	free(entry->rules);
	free(entry->client_id);
	free(entry);
}

static struct client_entry **find_slot(const char *client_id)
{
	struct client_table *table = &state->clients;
	struct client_entry **slot = &table->buckets[hash_string(client_id) % table->bucket_count];
	while (*slot != NULL && strcmp((*slot)->client_id, client_id) != 0) {
		slot = &(*slot)->next;
	}
	return slot;
}

static void grow_table(void)
{
	struct client_table *table = &state->clients;
	size_t bucket_count = table->bucket_count * 2;
	struct client_entry **buckets = calloc(bucket_count, sizeof(*buckets));
	if (buckets == NULL) {
		return; /* longer chains, still correct */
	}
	for (size_t i = 0; i < table->bucket_count; i++) {
		struct client_entry *entry = table->buckets[i];
		while (entry != NULL) {
			struct client_entry *next = entry->next;
			size_t index = hash_string(entry->client_id) % bucket_count;
			entry->next = buckets[index];
			buckets[index] = entry;
			entry = next;
		}
	}
	free(table->buckets);
	table->buckets = buckets;
	table->bucket_count = bucket_count;
}

/* A client id has one ACL, that of its newest connection: when a second client takes the
 * id over, Mosquitto closes the first one afterwards, and that close must not drop the ACL
 * of the connection that replaced it. */
static void store_entry(struct client_entry *entry)
{
	struct client_entry **slot = find_slot(entry->client_id);
	if (*slot != NULL) {
		struct client_entry *replaced = *slot;
		entry->next = replaced->next;
		*slot = entry;
		free_entry(replaced);
		return;
	}
	entry->next = NULL;
	*slot = entry;
	state->clients.count++;
	if (state->clients.count > state->clients.bucket_count) {
		grow_table();
	}
}

static struct client_entry *entry_of(const struct mosquitto *client)
{
	const char *client_id = mosquitto_client_id(client);
	if (client_id == NULL) {
		return NULL;
	}
	struct client_entry *entry = *find_slot(client_id);
	return entry != NULL && entry->client == client ? entry : NULL;
}

static void remove_entry(struct client_entry *entry)
{
	struct client_entry **slot = find_slot(entry->client_id);
	*slot = entry->next;
	state->clients.count--;
	free_entry(entry);
}

/* ---- Events for the console (queued on the main thread, sent by the background thread) ---- */

static void queue_event(cJSON *event)
{
	pthread_mutex_lock(&state->lock);
	if (state->pending_count < MAX_PENDING_EVENTS) {
		cJSON_AddItemToArray(state->pending_events, event);
		state->pending_count++;
		event = NULL;
	}
	pthread_mutex_unlock(&state->lock);
	if (event != NULL) {
		cJSON_Delete(event);
	}
}

static cJSON *new_event(const char *name, const char *client_id)
{
	cJSON *event = cJSON_CreateObject();
	cJSON_AddStringToObject(event, "event", name);
	if (client_id != NULL) {
		cJSON_AddStringToObject(event, "clientid", client_id);
	}
	cJSON_AddNumberToObject(event, "timestamp", (double)now_ms());
	return event;
}

static const char *disconnect_reason(const struct client_entry *entry, int reason)
{
	if (entry->kicked) {
		return "revoked by the console";
	}
	switch (reason) {
	case MOSQ_ERR_SUCCESS:
		return "client disconnected";
	case MOSQ_ERR_KEEPALIVE:
		return "keepalive timeout";
	case MOSQ_ERR_CONN_LOST:
		return "connection lost";
	case MOSQ_ERR_ADMINISTRATIVE_ACTION:
		return "disconnected by the broker";
	case MOSQ_ERR_PROTOCOL:
	case MOSQ_ERR_MALFORMED_PACKET:
		return "protocol error";
	default:
		return "connection closed";
	}
}

/* The client's ACL goes, and the console hears it went offline. */
static void forget_client(struct client_entry *entry, int reason)
{
	cJSON *event = new_event("client.disconnected", entry->client_id);
	cJSON_AddStringToObject(event, "reason", disconnect_reason(entry, reason));
	queue_event(event);
	remove_entry(entry);
}

/* ---- Callbacks (main thread) ---- */

static char *certificate_pem(const struct mosquitto *client)
{
	X509 *certificate = mosquitto_client_certificate(client);
	if (certificate == NULL) {
		return NULL;
	}
	char *pem = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio != NULL && PEM_write_bio_X509(bio, certificate) == 1) {
		char *data;
		long length = BIO_get_mem_data(bio, &data);
		pem = malloc((size_t)length + 1);
		if (pem != NULL) {
			memcpy(pem, data, (size_t)length);
			pem[length] = '\0';
		}
	}
	BIO_free(bio);
	X509_free(certificate);
	return pem;
}

static void add_string_or_null(cJSON *object, const char *key, const char *value)
{
	if (value != NULL) {
		cJSON_AddStringToObject(object, key, value);
	} else {
		cJSON_AddNullToObject(object, key);
	}
}

static int access_of(const char *action)
{
	if (strcmp(action, "publish") == 0) {
		return MOSQ_ACL_WRITE;
	}
	if (strcmp(action, "subscribe") == 0) {
		return MOSQ_ACL_READ | MOSQ_ACL_SUBSCRIBE | MOSQ_ACL_UNSUBSCRIBE;
	}
	if (strcmp(action, "all") == 0) {
		return MOSQ_ACL_READ | MOSQ_ACL_WRITE | MOSQ_ACL_SUBSCRIBE | MOSQ_ACL_UNSUBSCRIBE;
	}
	return MOSQ_ACL_NONE;
}

/* The console's allow rules; anything else in the list grants nothing. */
static struct client_entry *entry_from_answer(const char *client_id, const struct mosquitto *client, const cJSON *acl)
{
	struct client_entry *entry = calloc(1, sizeof(*entry));
	if (entry == NULL) {
		return NULL;
	}
	entry->client_id = strdup(client_id);
	entry->client = client;
	int size = cJSON_IsArray(acl) ? cJSON_GetArraySize(acl) : 0;
	entry->rules = calloc((size_t)(size > 0 ? size : 1), sizeof(*entry->rules));
	if (entry->client_id == NULL || entry->rules == NULL) {
		free_entry(entry);
		return NULL;
	}
	const cJSON *rule;
	cJSON_ArrayForEach(rule, acl)
	{
		const cJSON *permission = cJSON_GetObjectItemCaseSensitive(rule, "permission");
		const cJSON *action = cJSON_GetObjectItemCaseSensitive(rule, "action");
		const cJSON *topic = cJSON_GetObjectItemCaseSensitive(rule, "topic");
		if (!cJSON_IsString(permission) || strcmp(permission->valuestring, "allow") != 0 ||
				!cJSON_IsString(action) || !cJSON_IsString(topic)) {
			continue;
		}
		int access = access_of(action->valuestring);
		char *filter = strdup(topic->valuestring);
		if (access == MOSQ_ACL_NONE || filter == NULL) {
			free(filter);
			continue;
		}
		entry->rules[entry->rule_count].access = access;
		entry->rules[entry->rule_count].filter = filter;
		entry->rule_count++;
	}
	return entry;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)userdata;
	struct mosquitto_evt_basic_auth *data = event_data;
	const char *client_id = mosquitto_client_id(data->client);
	pthread_mutex_lock(&state->lock);
	bool ready = state->commands_ready;
	pthread_mutex_unlock(&state->lock);
	if (!ready) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub_auth: refused %s: no commands from the console yet",
				client_id != NULL ? client_id : "(no client id)");
		return MOSQ_ERR_UNKNOWN;
	}
	char *pem = certificate_pem(data->client);

	cJSON *body = cJSON_CreateObject();
	add_string_or_null(body, "clientid", client_id);
	add_string_or_null(body, "username", data->username);
	add_string_or_null(body, "password", data->password);
	add_string_or_null(body, "peerhost", mosquitto_client_address(data->client));
	/* The certificate listener requires a client certificate and the Key listener never
	 * asks for one, so the certificate says which listener the client came in on. */
	cJSON_AddStringToObject(body, "listener", pem != NULL ? "certificate" : "key");
	add_string_or_null(body, "cert_pem", pem);
	cJSON_AddStringToObject(body, "broker", state->broker_id);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	free(pem);

	char *url = endpoint("/broker/v1/authenticate");
	cJSON *answer = text != NULL && url != NULL ? request_json(state->auth_curl, url, text, true, NULL) : NULL;
	free(text);
	free(url);
	if (answer == NULL) {
		/* Fail closed: no decision, no connection. An error other than MOSQ_ERR_AUTH makes
		 * Mosquitto close the connection without a CONNACK, so the device retries later. */
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub_auth: refused %s: the console could not be asked",
				client_id != NULL ? client_id : "(no client id)");
		return MOSQ_ERR_UNKNOWN;
	}

	int rc = MOSQ_ERR_AUTH;
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(answer, "result");
	if (client_id != NULL && cJSON_IsString(result) && strcmp(result->valuestring, "allow") == 0) {
		struct client_entry *entry =
				entry_from_answer(client_id, data->client, cJSON_GetObjectItemCaseSensitive(answer, "acl"));
		if (entry != NULL) {
			store_entry(entry);
			cJSON *connected = new_event("client.connected", client_id);
			add_string_or_null(connected, "peerhost", mosquitto_client_address(data->client));
			queue_event(connected);
			rc = MOSQ_ERR_SUCCESS;
		} else {
			rc = MOSQ_ERR_NOMEM;
		}
	} else {
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(answer, "reason");
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub_auth: refused %s: %s",
				client_id != NULL ? client_id : "(no client id)",
				cJSON_IsString(reason) ? reason->valuestring : "denied by the console");
	}
	cJSON_Delete(answer);
	return rc;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)userdata;
	struct mosquitto_evt_acl_check *data = event_data;
	const struct client_entry *entry = entry_of(data->client);
	if (entry == NULL || data->topic == NULL) {
		return MOSQ_ERR_ACL_DENIED;
	}
	for (int i = 0; i < entry->rule_count; i++) {
		if ((entry->rules[i].access & data->access) && filter_covers(entry->rules[i].filter, data->topic)) {
			return MOSQ_ERR_SUCCESS;
		}
	}
	return MOSQ_ERR_ACL_DENIED;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)userdata;
	struct mosquitto_evt_disconnect *data = event_data;
	struct client_entry *entry = entry_of(data->client);
	/* No entry: the client was refused, or another connection took its id over. */
	if (entry != NULL) {
		forget_client(entry, data->reason);
	}
	return MOSQ_ERR_SUCCESS;
}

static void kick(const char *client_id)
{
	struct client_entry *entry = *find_slot(client_id);
	if (entry != NULL) {
		entry->kicked = true;
	}
	mosquitto_kick_client_by_clientid(client_id, false);
	/* Mosquitto's disconnect callback normally forgets the client; whatever it left
	 * (a client not known to Mosquitto any more) goes too, so no stale ACL stays. */
	entry = *find_slot(client_id);
	if (entry != NULL && entry->kicked) {
		forget_client(entry, MOSQ_ERR_ADMINISTRATIVE_ACTION);
	}
}

static void kick_prefix(const char *prefix)
{
	size_t prefix_length = strlen(prefix);
	size_t count = 0;
	/* Collect first: kicking removes entries from the table being walked. */
	char **matches = malloc(sizeof(char *) * (state->clients.count + 1));
	if (matches == NULL) {
		return;
	}
	for (size_t i = 0; i < state->clients.bucket_count; i++) {
		for (struct client_entry *entry = state->clients.buckets[i]; entry != NULL; entry = entry->next) {
			if (strncmp(entry->client_id, prefix, prefix_length) == 0) {
				matches[count++] = strdup(entry->client_id);
			}
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (matches[i] != NULL) {
			kick(matches[i]);
			free(matches[i]);
		}
	}
	free(matches);
}

static void free_action(struct action *action)
{
	free(action->text);
	free(action->payload);
	free(action);
}

static int on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	pthread_mutex_lock(&state->lock);
	struct action *action = state->actions_head;
	state->actions_head = state->actions_tail = NULL;
	pthread_mutex_unlock(&state->lock);

	while (action != NULL) {
		struct action *next = action->next;
		switch (action->kind) {
		case ACTION_KICK:
			kick(action->text);
			break;
		case ACTION_KICK_PREFIX:
			kick_prefix(action->text);
			break;
		case ACTION_PUBLISH:
			mosquitto_broker_publish_copy(NULL, action->text, action->payload_length, action->payload,
					action->qos, action->retain, NULL);
			break;
		}
		free_action(action);
		action = next;
	}
	return MOSQ_ERR_SUCCESS;
}

/* ---- The background thread: event batches out, commands in ---- */

static void queue_action(struct action *action)
{
	action->next = NULL;
	pthread_mutex_lock(&state->lock);
	if (state->actions_tail != NULL) {
		state->actions_tail->next = action;
	} else {
		state->actions_head = action;
	}
	state->actions_tail = action;
	pthread_mutex_unlock(&state->lock);
}

static struct action *new_action(enum action_kind kind, const char *text)
{
	struct action *action = calloc(1, sizeof(*action));
	if (action == NULL) {
		return NULL;
	}
	action->kind = kind;
	action->text = strdup(text);
	if (action->text == NULL) {
		free(action);
		return NULL;
	}
	return action;
}

static void queue_string(const cJSON *item, enum action_kind kind)
{
	if (cJSON_IsString(item)) {
		struct action *action = new_action(kind, item->valuestring);
		if (action != NULL) {
			queue_action(action);
		}
	}
}

static void queue_strings(const cJSON *list, enum action_kind kind)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, list)
	{
		queue_string(item, kind);
	}
}

static bool decode_base64(const char *text, unsigned char **bytes, int *length)
{
	size_t text_length = strlen(text);
	if (text_length % 4 != 0) {
		return false;
	}
	*bytes = malloc(text_length / 4 * 3 + 1);
	if (*bytes == NULL) {
		return false;
	}
	int decoded = EVP_DecodeBlock(*bytes, (const unsigned char *)text, (int)text_length);
	if (decoded < 0) {
		free(*bytes);
		*bytes = NULL;
		return false;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	for (size_t i = text_length; i > 0 && text[i - 1] == '='; i--) {
		decoded--;
	}
	*length = decoded;
	return true;
}

static void queue_publish(const cJSON *item)
{
	const cJSON *topic = cJSON_GetObjectItemCaseSensitive(item, "topic");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(item, "payload_base64");
	const cJSON *qos = cJSON_GetObjectItemCaseSensitive(item, "qos");
	const cJSON *retain = cJSON_GetObjectItemCaseSensitive(item, "retain");
	if (!cJSON_IsString(topic) || !cJSON_IsString(payload)) {
		return;
	}
	struct action *action = new_action(ACTION_PUBLISH, topic->valuestring);
	if (action == NULL) {
		return;
	}
	if (!decode_base64(payload->valuestring, &action->payload, &action->payload_length)) {
		free_action(action);
		return;
	}
	action->qos = cJSON_IsNumber(qos) && qos->valueint == 1 ? 1 : 0;
	action->retain = cJSON_IsTrue(retain);
	queue_action(action);
}

static void queue_publishes(const cJSON *list)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, list)
	{
		queue_publish(item);
	}
}

static bool already_applied(const struct applied_ids *applied, long long id)
{
	if (id > applied->highest) {
		return false;
	}
	/* Newest first: the ids sent again are the recent ones. */
	for (size_t i = applied->count; i > 0; i--) {
		if (applied->ids[(applied->start + i - 1) % applied->capacity] == id) {
			return true;
		}
	}
	return false;
}

/* False when out of memory: the command is then left for the console's next answer. */
static bool remember_applied(struct applied_ids *applied, long long id)
{
	long long now = now_ms();
	while (applied->count > 0 && now - applied->at_ms[applied->start] > REMEMBER_APPLIED_MS) {
		applied->start = (applied->start + 1) % applied->capacity;
		applied->count--;
	}
	if (applied->count == applied->capacity) {
		size_t capacity = applied->capacity > 0 ? applied->capacity * 2 : 4096;
		long long *ids = malloc(capacity * sizeof(*ids));
		long long *at_ms = malloc(capacity * sizeof(*at_ms));
		if (ids == NULL || at_ms == NULL) {
			free(ids);
			free(at_ms);
			return false;
		}
		for (size_t i = 0; i < applied->count; i++) {
			size_t from = (applied->start + i) % applied->capacity;
			ids[i] = applied->ids[from];
			at_ms[i] = applied->at_ms[from];
		}
		free(applied->ids);
		free(applied->at_ms);
		applied->ids = ids;
		applied->at_ms = at_ms;
		applied->capacity = capacity;
		applied->start = 0;
	}
	size_t slot = (applied->start + applied->count) % applied->capacity;
	applied->ids[slot] = id;
	applied->at_ms[slot] = now;
	applied->count++;
	if (id > applied->highest) {
		applied->highest = id;
	}
	return true;
}

/* The per-item form: each command once, however often the console sends it. Publishes
 * at or below the start-up cursor were addressed to the clients of a previous run. */
static void queue_commands(const cJSON *list, struct applied_ids *applied, long long start_cursor)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(item, "kind");
		if (!cJSON_IsNumber(id) || !cJSON_IsString(kind)) {
			continue;
		}
		long long number = (long long)id->valuedouble;
		bool publish = strcmp(kind->valuestring, "publish") == 0;
		if ((publish && number <= start_cursor) || already_applied(applied, number) ||
				!remember_applied(applied, number)) {
			continue;
		}
		if (publish) {
			queue_publish(item);
		} else if (strcmp(kind->valuestring, "kick") == 0) {
			queue_string(cJSON_GetObjectItemCaseSensitive(item, "target"), ACTION_KICK);
		} else if (strcmp(kind->valuestring, "kick_prefix") == 0) {
			queue_string(cJSON_GetObjectItemCaseSensitive(item, "target"), ACTION_KICK_PREFIX);
		}
	}
}

/* How the background thread reads commands: where it is and what it has applied. */
struct command_reader {
	long long cursor; /* < 0 until the start-up cursor is known */
	long long start_cursor;
	int limit; /* rows a page may hold; halved after an answer over MAX_RESPONSE_BYTES */
	struct applied_ids applied;
};

static char *commands_url(CURL *curl, long long cursor, int limit)
{
	char *escaped = curl_easy_escape(curl, state->broker_id, 0);
	if (escaped == NULL) {
		return NULL;
	}
	size_t length = strlen(state->console_url) + strlen(escaped) + 100;
	char *url = malloc(length);
	if (url != NULL && cursor < 0) {
		snprintf(url, length, "%s/broker/v1/commands?broker=%s", state->console_url, escaped);
	} else if (url != NULL) {
		snprintf(url, length, "%s/broker/v1/commands?broker=%s&after=%lld&limit=%d", state->console_url, escaped,
				cursor, limit);
	}
	curl_free(escaped);
	return url;
}

/* The newest command id (start-up, main thread), or -1 when the console did not answer. */
static long long start_up_cursor(CURL *curl)
{
	char *url = commands_url(curl, -1, 0);
	cJSON *answer = url != NULL ? request_json(curl, url, NULL, true, NULL) : NULL;
	free(url);
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(answer, "cursor");
	long long cursor = cJSON_IsNumber(next) ? (long long)next->valuedouble : -1;
	cJSON_Delete(answer);
	return cursor;
}

static void poll_commands(CURL *curl, struct command_reader *reader)
{
	char *url = commands_url(curl, reader->cursor, reader->limit);
	if (url == NULL) {
		return;
	}
	bool too_large = false;
	cJSON *answer = request_json(curl, url, NULL, false, &too_large);
	free(url);
	if (too_large) {
		/* Smaller pages until one fits: a cursor stuck behind a page too large for the
		 * plugin would hold back every later revocation. */
		if (reader->limit == COMMANDS_PER_POLL) {
			fprintf(stderr, "iothub_auth: a commands page went over %ld bytes; asking for fewer rows until they fit\n",
					MAX_RESPONSE_BYTES);
		}
		reader->limit = reader->limit > 1 ? reader->limit / 2 : 1;
	}
	if (answer == NULL) {
		return;
	}
	if (reader->limit < COMMANDS_PER_POLL) {
		reader->limit = reader->limit * 2 < COMMANDS_PER_POLL ? reader->limit * 2 : COMMANDS_PER_POLL;
	}
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(answer, "cursor");
	if (cJSON_IsNumber(next)) {
		if (reader->cursor >= 0) {
			const cJSON *commands = cJSON_GetObjectItemCaseSensitive(answer, "commands");
			if (cJSON_IsArray(commands)) {
				queue_commands(commands, &reader->applied, reader->start_cursor);
			} else {
				queue_strings(cJSON_GetObjectItemCaseSensitive(answer, "kick"), ACTION_KICK);
				queue_strings(cJSON_GetObjectItemCaseSensitive(answer, "kick_prefixes"), ACTION_KICK_PREFIX);
				queue_publishes(cJSON_GetObjectItemCaseSensitive(answer, "publish"));
			}
		} else {
			reader->start_cursor = (long long)next->valuedouble;
		}
		reader->cursor = (long long)next->valuedouble;
	}
	cJSON_Delete(answer);
}

/* Sends the oldest queued events, at most EVENTS_PER_POST; a batch the console did not
 * take goes back in front, in order, for the next round. True when a full batch went and
 * more are waiting: a backlog, sent without waiting. Events that keep arriving while
 * devices connect wait for the next round instead, or the thread would post (and poll
 * commands) as fast as the console answers, a few events at a time, at the console's
 * cost: 11 events per POST and 70 POSTs a second measured under 600 connects/s, against
 * about 240 and 5. */
static bool send_events(CURL *curl, char *url)
{
	cJSON *events = cJSON_CreateArray();
	if (events == NULL) {
		return false;
	}
	int taken = 0;
	pthread_mutex_lock(&state->lock);
	cJSON *item;
	while (taken < EVENTS_PER_POST && (item = cJSON_DetachItemFromArray(state->pending_events, 0)) != NULL) {
		cJSON_AddItemToArray(events, item);
		taken++;
	}
	state->pending_count -= taken;
	pthread_mutex_unlock(&state->lock);
	if (taken == 0) {
		cJSON_Delete(events);
		return false;
	}
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "broker", state->broker_id);
	cJSON_AddItemToObject(body, "events", events);
	char *text = cJSON_PrintUnformatted(body);
	cJSON *answer = text != NULL ? request_json(curl, url, text, false, NULL) : NULL;
	free(text);
	if (answer != NULL) {
		cJSON_Delete(answer);
		cJSON_Delete(body);
		pthread_mutex_lock(&state->lock);
		bool backlog = taken == EVENTS_PER_POST && state->pending_count > 0;
		pthread_mutex_unlock(&state->lock);
		return backlog;
	}
	cJSON_DetachItemViaPointer(body, events);
	cJSON_Delete(body);
	pthread_mutex_lock(&state->lock);
	/* Last first, each to the front: the batch ends up ahead of newer events, in order. */
	while (events->child != NULL) {
		item = cJSON_DetachItemViaPointer(events, events->child->prev);
		if (state->pending_count == 0) {
			cJSON_AddItemToArray(state->pending_events, item);
		} else {
			cJSON_InsertItemInArray(state->pending_events, 0, item);
		}
		state->pending_count++;
	}
	/* Over the cap, the newest go. */
	while (state->pending_count > MAX_PENDING_EVENTS) {
		cJSON_Delete(cJSON_DetachItemViaPointer(state->pending_events, state->pending_events->child->prev));
		state->pending_count--;
	}
	pthread_mutex_unlock(&state->lock);
	cJSON_Delete(events);
	return false;
}

static void *background(void *argument)
{
	(void)argument;
	CURL *curl = new_curl();
	char *events_url = endpoint("/broker/v1/events");
	struct command_reader reader = {.limit = COMMANDS_PER_POLL};
	pthread_mutex_lock(&state->lock);
	reader.cursor = reader.start_cursor = state->start_cursor;
	pthread_mutex_unlock(&state->lock);
	if (curl == NULL || events_url == NULL) {
		fprintf(stderr, "iothub_auth: cannot start the console link (out of memory)\n");
		curl_easy_cleanup(curl);
		free(events_url);
		return NULL;
	}
	pthread_mutex_lock(&state->lock);
	while (!state->stopping) {
		pthread_mutex_unlock(&state->lock);
		bool more_events = send_events(curl, events_url);
		bool was_ready = reader.cursor >= 0;
		poll_commands(curl, &reader);
		if (!was_ready && reader.cursor >= 0) {
			pthread_mutex_lock(&state->lock);
			state->commands_ready = true;
			pthread_mutex_unlock(&state->lock);
		}

		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += BACKGROUND_INTERVAL_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&state->lock);
		/* A backlog (after a console outage) goes out batch after batch, a commands poll
		 * between each. */
		if (!state->stopping && !more_events) {
			pthread_cond_timedwait(&state->wake, &state->lock, &until);
		}
	}
	pthread_mutex_unlock(&state->lock);
	while (send_events(curl, events_url)) {
		/* the disconnects of a broker shutting down */
	}
	free(reader.applied.ids);
	free(reader.applied.at_ms);
	curl_easy_cleanup(curl);
	free(events_url);
	return NULL;
}

/* ---- Plugin entry points ---- */

static char *read_token(const char *path)
{
	FILE *file = fopen(path, "r");
	if (file == NULL) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub_auth: cannot read token file %s: %s", path, strerror(errno));
		return NULL;
	}
	char line[512];
	char *token = NULL;
	if (fgets(line, sizeof(line), file) != NULL) {
		line[strcspn(line, "\r\n \t")] = '\0';
		if (line[0] != '\0') {
			token = strdup(line);
		}
	}
	fclose(file);
	if (token == NULL) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub_auth: token file %s is empty", path);
	}
	return token;
}

static void free_state(void)
{
	if (state == NULL) {
		return;
	}
	if (state->thread_started) {
		pthread_mutex_lock(&state->lock);
		state->stopping = true;
		pthread_cond_signal(&state->wake);
		pthread_mutex_unlock(&state->lock);
		pthread_join(state->thread, NULL);
	}
	for (size_t i = 0; i < state->clients.bucket_count; i++) {
		struct client_entry *entry = state->clients.buckets[i];
		while (entry != NULL) {
			struct client_entry *next = entry->next;
			free_entry(entry);
			entry = next;
		}
	}
	free(state->clients.buckets);
	struct action *action = state->actions_head;
	while (action != NULL) {
		struct action *next = action->next;
		free_action(action);
		action = next;
	}
	cJSON_Delete(state->pending_events);
	curl_easy_cleanup(state->auth_curl);
	curl_slist_free_all(state->headers);
	pthread_cond_destroy(&state->wake);
	pthread_mutex_destroy(&state->lock);
	free(state->console_url);
	free(state->broker_id);
	free(state);
	state = NULL;
	curl_global_cleanup();
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) {
			return 5;
		}
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
		int option_count)
{
	const char *console_url = NULL;
	const char *token_file = NULL;
	const char *broker_id = NULL;
	for (int i = 0; i < option_count; i++) {
		if (strcmp(options[i].key, "console_url") == 0) {
			console_url = options[i].value;
		} else if (strcmp(options[i].key, "token_file") == 0) {
			token_file = options[i].value;
		} else if (strcmp(options[i].key, "broker_id") == 0) {
			broker_id = options[i].value;
		}
	}
	if (console_url == NULL || token_file == NULL) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub_auth: plugin_opt_console_url and plugin_opt_token_file are required");
		return MOSQ_ERR_INVAL;
	}
	char *token = read_token(token_file);
	if (token == NULL) {
		return MOSQ_ERR_INVAL;
	}
	char hostname[256] = "mosquitto";
	if (broker_id == NULL) {
		gethostname(hostname, sizeof(hostname) - 1);
		broker_id = hostname;
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(token);
		return MOSQ_ERR_UNKNOWN;
	}
	state = calloc(1, sizeof(*state));
	if (state == NULL) {
		free(token);
		curl_global_cleanup();
		return MOSQ_ERR_NOMEM;
	}
	pthread_mutex_init(&state->lock, NULL);
	pthread_cond_init(&state->wake, NULL);
	state->identifier = identifier;
	state->console_url = strdup(console_url);
	if (state->console_url != NULL) {
		size_t length = strlen(state->console_url);
		while (length > 0 && state->console_url[length - 1] == '/') {
			state->console_url[--length] = '\0';
		}
	}
	state->broker_id = strdup(broker_id);
	size_t header_length = strlen(token) + 32;
	char *authorization = malloc(header_length);
	if (authorization != NULL) {
		snprintf(authorization, header_length, "Authorization: Bearer %s", token);
		state->headers = curl_slist_append(NULL, authorization);
		state->headers = curl_slist_append(state->headers, "Content-Type: application/json");
		/* Without this, curl holds a body over 1 KiB (a certificate) until the server answers
		 * "100 Continue", or for a second. */
		state->headers = curl_slist_append(state->headers, "Expect:");
		OPENSSL_cleanse(authorization, header_length);
		free(authorization);
	}
	OPENSSL_cleanse(token, strlen(token));
	free(token);
	state->clients.bucket_count = 1024;
	state->clients.buckets = calloc(state->clients.bucket_count, sizeof(*state->clients.buckets));
	state->pending_events = cJSON_CreateArray();
	if (state->console_url == NULL || state->broker_id == NULL || state->headers == NULL ||
			state->clients.buckets == NULL || state->pending_events == NULL) {
		free_state();
		return MOSQ_ERR_NOMEM;
	}
	state->auth_curl = new_curl();
	if (state->auth_curl == NULL) {
		free_state();
		return MOSQ_ERR_NOMEM;
	}

	/* Asked here, before the first client can connect; if the console is not there yet,
	 * the background thread keeps asking and clients are refused meanwhile. */
	state->start_cursor = start_up_cursor(state->auth_curl);
	state->commands_ready = state->start_cursor >= 0;
	/* Devices the console still shows online on this broker lost their connection. */
	cJSON_AddItemToArray(state->pending_events, new_event("broker.started", NULL));
	state->pending_count = 1;
	if (pthread_create(&state->thread, NULL, background, NULL) != 0) {
		free_state();
		return MOSQ_ERR_UNKNOWN;
	}
	state->thread_started = true;

	*userdata = state;
	mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL);
	mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, NULL);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub_auth: broker %s asks %s", state->broker_id, state->console_url);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	if (state == NULL) {
		return MOSQ_ERR_SUCCESS;
	}
	mosquitto_callback_unregister(state->identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(state->identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(state->identifier, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	mosquitto_callback_unregister(state->identifier, MOSQ_EVT_TICK, on_tick, NULL);
	free_state();
	return MOSQ_ERR_SUCCESS;
}
