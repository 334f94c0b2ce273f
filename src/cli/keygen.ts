/** Prints a fresh SECRETS_KEY value (`bun run keygen`), same format as Python's `Fernet.generate_key()`. */
import { generateSecretKey } from "../platform/secret-box";

process.stdout.write(`${generateSecretKey()}\n`);
