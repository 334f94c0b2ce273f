import type { AuditLogService } from "../audit/audit-log";
import type { ReportsService } from "../catalog/admin-reports";
import type { PersonalityService } from "../catalog/personality-service";
import type { ProviderService } from "../catalog/provider-service";
import type { DebateEventBus } from "../debate/debate-events";
import type { DebateService } from "../debate/debate-service";
import type { Logger } from "../platform/logger";
import type { SettingsService } from "../settings/settings-service";
import type { UserService } from "../users/user-service";

/**
 * What both operator doors (API and admin) are given: the same services over the same core, built
 * once in `app.ts`. No door holds the raw database.
 */
export interface OperatorDoorDeps {
  debate: DebateService;
  events: DebateEventBus;
  providers: ProviderService;
  personalities: PersonalityService;
  reports: ReportsService;
  settings: SettingsService;
  /** The bot's users (the bot records them; the operator's doors list and change them). */
  users: UserService;
  audit: AuditLogService;
  logger: Logger;
}
