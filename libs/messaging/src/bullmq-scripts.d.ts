/** BullMQ's own Lua scripts, the set its RedisConnection defines on every ioredis client. */
declare module 'bullmq/dist/cjs/scripts' {
  const scripts: Record<string, { name: string; content: string; keys: number }>;
  export = scripts;
}
