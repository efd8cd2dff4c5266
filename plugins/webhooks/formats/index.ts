/**
 * The built-in payload formats, by the name a hook's `format` setting uses.
 * (`generic`, hookshot's rules, lives with the plugin, not here.)
 */
import { alertmanager } from './alertmanager.ts';
import { apprise } from './apprise.ts';
import { lidarr, radarr, readarr, sonarr } from './arr.ts';
import { github } from './github.ts';
import { gitlab } from './gitlab.ts';
import { grafana } from './grafana.ts';
import { owncast } from './owncast.ts';
import { proxmox } from './proxmox.ts';
import { seerr } from './seerr.ts';
import type { Format } from './types.ts';
import { uptimeKuma } from './uptime-kuma.ts';

export type { Format, FormatInput, Rendered } from './types.ts';

export type FormatName = 'grafana' | 'alertmanager' | 'proxmox' | 'sonarr' | 'radarr' | 'readarr' | 'lidarr' | 'uptime-kuma' | 'seerr' | 'owncast' | 'apprise' | 'github' | 'gitlab';

/**
 * The contract says a format never throws. The formats only read through
 * the narrowing helpers, so this is a backstop: a bug in one costs that
 * message its formatting (the generic rendering takes over), not the delivery.
 */
function guarded(format: Format): Format {
  return (input) => {
    try {
      return format(input);
    } catch {
      return null;
    }
  };
}

export const FORMATS: Readonly<Record<FormatName, Format>> = {
  grafana: guarded(grafana),
  alertmanager: guarded(alertmanager),
  proxmox: guarded(proxmox),
  sonarr: guarded(sonarr),
  radarr: guarded(radarr),
  readarr: guarded(readarr),
  lidarr: guarded(lidarr),
  'uptime-kuma': guarded(uptimeKuma),
  seerr: guarded(seerr),
  owncast: guarded(owncast),
  apprise: guarded(apprise),
  github: guarded(github),
  gitlab: guarded(gitlab),
};

export const FORMAT_NAMES: readonly FormatName[] = Object.keys(FORMATS) as FormatName[];
