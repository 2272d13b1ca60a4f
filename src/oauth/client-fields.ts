/** Client metadata fields that registration (RFC 7591) and metadata documents (CIMD) validate alike. */
import { z } from "zod";
import { hasDisguisingCharacters } from "../web/text.js";

export const MAX_URL_LENGTH = 2000;

/** PRODUCT §6: `logo_uri`, `client_uri`, `tos_uri`, `policy_uri` must be https. */
export const httpsUrl = z
  .string()
  .max(MAX_URL_LENGTH)
  .refine((s) => URL.canParse(s) && new URL(s).protocol === "https:", "must be an https URL");

/** A client name as the consent page shows it (CIMD §6.4: a client must not be able to disguise itself). */
export const displayName = z
  .string()
  .max(200)
  .refine((s) => s.trim() !== "" && !hasDisguisingCharacters(s), "must be printable text");
