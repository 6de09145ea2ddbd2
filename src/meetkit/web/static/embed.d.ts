// TypeScript declarations of meetkit's /embed.js (docs/embed.md). Served at /embed.d.ts.

export type Role = "host" | "guest";

/** What the meeting tells the embedding page, by event name. */
export interface MeetkitEvents {
  /** The meeting page is loaded: commands may be sent (they are queued until then anyway). */
  ready: Record<string, never>;
  joined: { participant_id: string; role: Role };
  participant_joined: { participant_id: string; name: string; role: Role };
  participant_left: { participant_id: string; reason: "left" | "removed" | "dropped" | "ended" };
  /** Hosts only: someone waits in the lobby. */
  knocking: { participant_id: string; name: string; reason: "approval" | "host_absent" | "removed_before" };
  chat_message: { participant_id: string; name: string; role: Role; text: string; sent_at: string };
  talking: { participant_id: string; talking: boolean };
  recording_started: Record<string, never>;
  recording_stopped: Record<string, never>;
  /** You left the meeting: "left", "removed", "replaced", "connection_lost", … */
  left: { reason: string };
  meeting_ended: Record<string, never>;
  /** The server refused something (its `error` message). */
  error: { code: string; message: string };
}

export type MeetkitEventName = keyof MeetkitEvents;

/** A refused command: `code` is one of not_joined, forbidden, bad_arguments, not_available,
 * not_connected, unknown_command, timeout, destroyed. */
export interface MeetkitCommandError extends Error {
  code: string;
}

export interface EmbedOptions {
  width?: number | string;
  height?: number | string;
  title?: string;
  onEvent?: <E extends MeetkitEventName>(event: E, data: MeetkitEvents[E]) => void;
}

export interface MeetkitMeeting {
  readonly iframe: HTMLIFrameElement;
  on<E extends MeetkitEventName>(event: E, handler: (data: MeetkitEvents[E]) => void): this;
  off<E extends MeetkitEventName>(event: E, handler: (data: MeetkitEvents[E]) => void): this;
  setMicrophone(on: boolean): Promise<{ on: boolean }>;
  mute(): Promise<{ on: boolean }>;
  unmute(): Promise<{ on: boolean }>;
  setCamera(on: boolean): Promise<{ on: boolean }>;
  leave(): Promise<Record<string, never>>;
  setDisplayName(name: string): Promise<Record<string, never>>;
  /** Opens (true), closes (false) or toggles (no argument) the chat panel. */
  toggleChat(open?: boolean): Promise<{ open: boolean }>;
  /** Opens (`true`, the default) or closes (`false`) the whiteboard; rejected `not_available` when the room has none. */
  openWhiteboard(open?: boolean): Promise<{ open: boolean }>;
  /** Host only. */
  startRecording(): Promise<Record<string, never>>;
  /** Host only. */
  stopRecording(): Promise<Record<string, never>>;
  /** Host only: a participant waiting in the lobby (its `knocking` event's id). */
  admit(participantId: string): Promise<Record<string, never>>;
  /** Host only. */
  deny(participantId: string): Promise<Record<string, never>>;
  /** Host only: ends the meeting for everyone. */
  endMeeting(): Promise<Record<string, never>>;
  /** Removes the iframe; pending commands are rejected with code "destroyed". */
  destroy(): void;
}

export interface MeetkitGlobal {
  embed(container: string | HTMLElement, url: string, options?: EmbedOptions): MeetkitMeeting;
  /** The meeting of a `<script data-meetkit-url>` tag, once loaded. */
  autoloaded?: MeetkitMeeting;
}

declare global {
  interface Window {
    Meetkit: MeetkitGlobal;
  }
}
