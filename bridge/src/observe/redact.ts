// Secrets never leave the process through logs, errors, /readyz, the dashboard or the CLI.
// Passwords reach the bridge inside URLs (amqp://user:password@host) more than anywhere
// else, so every text that may hold a URL goes through redactSecrets, and every log line
// does (observe/logger.ts).

/** scheme://user:password@ with a greedy password, as URL parsers take the last '@' of the authority. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#"'<>]*):([^\s/?#"'<>]*)@/gi;

/** Masks the password of every URL in a text: `amqp://user:secret@host` -> `amqp://user:***@host`. */
export function redactSecrets(text: string): string {
  return text.replace(USERINFO, '$1$2:***@');
}

/** One URL for state(), dashboards and logs: password and query removed, e.g. `amqps://user@host:5671/vhost`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
