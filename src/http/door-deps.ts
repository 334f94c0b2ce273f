import type { AuditLogService } from "../audit/audit-log";
import type { DebateEventBus } from "../debate/debate-events";
import type { DebateService } from "../debate/debate-service";
import type { Db } from "../platform/db";
import type { Logger } from "../platform/logger";
import type { SecretBox } from "../platform/secret-box";
import type { SettingsService } from "../settings/settings-service";

/** What both operator doors (API and admin) are given: the same services over the same core. */
export interface OperatorDoorDeps {
  db: Db;
  debate: DebateService;
  events: DebateEventBus;
  settings: SettingsService;
  audit: AuditLogService;
  secretBox: SecretBox;
  logger: Logger;
}
