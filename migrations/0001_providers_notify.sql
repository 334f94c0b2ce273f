-- Every change to providers notifies the running instances, which drop their cached provider rows:
-- a key, model or price edited in the admin (or in SQL) applies from the next turn on.
CREATE OR REPLACE FUNCTION providers_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('providers_changed', '');
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER providers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON providers
  FOR EACH STATEMENT EXECUTE FUNCTION providers_notify_change();
