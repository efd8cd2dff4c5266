/** The contract between the webhooks plugin and its built-in payload formats. */

/** What a webhook request looks like to a format: the parsed body and the lower-case request headers. */
export interface FormatInput {
  /** JSON object/array/value for JSON bodies; Record<string,string> for forms; string for text/XML. */
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/** A message to post. */
export interface Rendered {
  plain: string;
  /** formatted_body (org.matrix.custom.html); every payload value escaped. */
  html: string;
  /** Default m.notice when absent. */
  msgtype?: 'm.notice' | 'm.text';
  /**
   * Alert-style services: the same key for the firing and the resolving notification of one alert (group),
   * so the plugin can edit the firing message on resolve instead of posting an unrelated one.
   */
  alert?: { key: string; state: 'firing' | 'resolved' };
}

/** Renders a payload of one service; null when the payload is not that service's (the plugin then falls back to the generic rendering). Never throws for any input. */
export type Format = (input: FormatInput) => Rendered | null;
