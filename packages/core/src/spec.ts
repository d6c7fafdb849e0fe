// The data model of guilds and agents (DESIGN section 3). Each schema is the single source of both
// runtime validation and the TypeScript type of the same name. Schemas are built on first use (see
// lazy-module.ts): importing this package must not cost an agent process the load of zod.
import type { z } from "zod";
import { lazySchema, type Zod } from "./lazy-module.js";

/** Agent and guild ids: safe in Redis keys, topic names, file names and log fields. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What an id must be, in the words every refusal of a bad id uses (see `checkId`). */
export const ID_RULE = `must match ${ID_PATTERN.source} (letters, digits, '.', '_', '-'; at most 128)`;

const id = (z: Zod) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? "is required" : "must be a string") })
    .regex(ID_PATTERN, ID_RULE);

/** Free-form JSON configuration. */
const properties = (z: Zod) => z.record(z.string(), z.json());

const CLASS_NAME_PATTERN = /^[^#\s]+#[A-Za-z_$][\w$]*$/;

/** How the host restarts an agent whose process exited. */
export const RestartPolicy = lazySchema((z) =>
  z.strictObject({
    /** `always`: after any exit not asked for; `on-failure`: after a non-zero exit or a signal; `never`. */
    mode: z.enum(["always", "on-failure", "never"]),
    /** Restarts allowed before the agent is left crashed. Default 5. */
    maxRestarts: z.number().int().min(0).max(1_000_000).optional(),
    /** Delay before the first restart, doubled for each further one (capped at 30 s). Default 500. */
    backoffMs: z.number().int().min(0).max(3_600_000).optional(),
  }),
);
export type RestartPolicy = z.infer<typeof RestartPolicy>;

/** Resource limits of one agent process. */
export const AgentResources = lazySchema((z) =>
  z.strictObject({
    /** The V8 heap limit of the agent process, in MiB. */
    memoryMb: z.number().int().min(16).max(1_048_576).optional(),
  }),
);
export type AgentResources = z.infer<typeof AgentResources>;

/** The longest `hibernateAfterMs`: 30 days. */
export const MAX_HIBERNATE_AFTER_MS = 30 * 24 * 60 * 60 * 1000;

/** One agent of a guild: what to run and how. */
export const AgentSpec = lazySchema((z) =>
  z.strictObject({
    /** Unique within its guild; matches {@link ID_PATTERN}. */
    id: id(z),
    /** A display name; several agents may share one (see `findAgentsByName`). */
    name: z.string().min(1, "must not be empty").max(256),
    /** What the agent is for. Default: none. */
    description: z.string().max(4096).optional(),
    /** `"<module>#<exportName>"`: a package name, an absolute path or a file URL, then the export. */
    className: z
      .string()
      .regex(CLASS_NAME_PATTERN, 'must be "<module>#<ExportName>", e.g. "@acme/agents#Summarizer"')
      .refine(
        (value) => !/^\.\.?[/\\]/.test(value),
        "must name a package, an absolute path or a file URL: a relative path would resolve differently on each host",
      ),
    /** Configuration handed to the agent as `this.properties`. Default `{}`. */
    properties: properties(z).optional(),
    /** Topics received besides the default topic and the inbox. Default: none. */
    additionalTopics: z.array(z.string().min(1).max(256)).max(256).optional(),
    /** Whether the agent receives its guild's default topic. Default true. */
    listenToDefaultTopic: z.boolean().optional(),
    /** How a host restarts the agent's process after it exits. Default: the host's policy. */
    restartPolicy: RestartPolicy.optional(),
    /** Limits of the agent's process. Default: the host's. */
    resources: AgentResources.optional(),
    /**
     * After this many milliseconds with no message handled and no timer due sooner, the agent
     * sleeps: its state is committed, its process exits (without `onStop`), and its next message
     * or timer starts it again. 0 never sleeps. Default: the host's (`hibernateAfterMs` option).
     */
    hibernateAfterMs: z.number().int().min(0).max(MAX_HIBERNATE_AFTER_MS).optional(),
  }),
);
export type AgentSpec = z.infer<typeof AgentSpec>;

/** The topic a guild's agents send to when no topic is named. */
export const DEFAULT_TOPIC = "default_topic";

/** A guild's agents: ids must be unique. Checked even when other fields are wrong, to report all at once. */
const agents = (z: Zod) =>
  z
    .array(AgentSpec)
    .max(10_000)
    .superRefine(
      (list: unknown, ctx) => {
        if (!Array.isArray(list)) return;
        const seen = new Map<string, number>();
        list.forEach((agent: unknown, index) => {
          const agentId: unknown =
            typeof agent === "object" && agent !== null
              ? (agent as { id?: unknown }).id
              : undefined;
          if (typeof agentId !== "string") return;
          const first = seen.get(agentId);
          if (first !== undefined) {
            ctx.addIssue({
              code: "custom",
              path: [index, "id"],
              message: `duplicate agent id "${agentId}" (also agents[${first}].id): ids must be unique within a guild`,
            });
          } else {
            seen.set(agentId, index);
          }
        });
      },
      { when: () => true },
    );

/** A guild: a set of agents that talk over shared topics. */
export const GuildSpec = lazySchema((z) =>
  z.strictObject({
    /** Unique among guilds; matches {@link ID_PATTERN}. Topics and agents are scoped by it. */
    id: id(z),
    /** A display name. */
    name: z.string().min(1, "must not be empty").max(256),
    /** What the guild is for. Default: none. */
    description: z.string().max(4096).optional(),
    /** The organization owning the guild, for callers that group guilds. Default: none. */
    organizationId: z.string().min(1).max(256).optional(),
    /** Default `"default_topic"`. */
    defaultTopic: z.string().min(1).max(256).optional(),
    /** The guild's agents; ids unique within the guild. */
    agents: agents(z),
    /** Free-form JSON about the guild. Default: none. */
    properties: properties(z).optional(),
  }),
);
export type GuildSpec = z.infer<typeof GuildSpec>;

/** Where a guild's messages travel. */
export const MessagingConfig = lazySchema((z) =>
  z.discriminatedUnion("backend", [
    /** A MemoryBus: everything in one process. */
    z.strictObject({ backend: z.literal("memory") }),
    /** A RedisBus on Redis Streams. */
    z.strictObject({
      backend: z.literal("redis"),
      /** `redis://` or `rediss://` (TLS). */
      url: z.string().regex(/^rediss?:\/\//, 'must start with "redis://" or "rediss://"'),
      /** Prefix of every key. Default: the bus's (`gh:`). */
      prefix: z.string().max(64).optional(),
      /** The largest message accepted, in bytes. Default: the bus's. */
      maxPayloadBytes: z.number().int().positive().optional(),
    }),
  ]),
);
export type MessagingConfig = z.infer<typeof MessagingConfig>;
