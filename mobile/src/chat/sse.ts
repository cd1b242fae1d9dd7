// A Server-Sent Events parser (the WHATWG event-stream format): fed text chunks as they arrive,
// split anywhere, it calls onEvent for each complete event. Comments (the server's keep-alive
// pings) and unknown fields are skipped; CRLF, LF and CR line ends are all accepted.
export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | null = null;
  private sawCR = false;

  constructor(private onEvent: (event: SseEvent) => void) {}

  feed(chunk: string): void {
    let text = chunk;
    // A CR ended the previous chunk: an LF starting this one belongs to it.
    if (this.sawCR && text.startsWith("\n")) text = text.slice(1);
    this.sawCR = text.endsWith("\r");
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? "";
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }

  private dispatch(): void {
    if (this.data.length > 0) {
      this.onEvent({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
    }
    this.data = [];
    this.event = "";
    // The id stays: it is the stream's last event id until another event sets one.
  }
}
