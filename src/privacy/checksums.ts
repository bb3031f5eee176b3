// The check digits that tell a real payment card number or IBAN from a number that only looks
// like one (a random 16-digit number passes Luhn one time in ten, an IBAN-shaped string passes
// mod 97 one time in 97).

/** Luhn (mod 10) over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/**
 * Card networks by leading digits and the lengths they issue (ISO/IEC 7812 ranges of the major
 * networks). A Luhn-valid number outside these (a 13-digit millisecond timestamp, an order id
 * starting with 1) is not taken for a card.
 */
const CARD_RANGES: ReadonlyArray<{ from: number; to: number; digits: number; lengths: number[] }> =
  [
    { from: 4, to: 4, digits: 1, lengths: [13, 16, 19] }, // Visa
    { from: 51, to: 55, digits: 2, lengths: [16] }, // Mastercard
    { from: 2221, to: 2720, digits: 4, lengths: [16] }, // Mastercard 2-series
    { from: 34, to: 34, digits: 2, lengths: [15] }, // American Express
    { from: 37, to: 37, digits: 2, lengths: [15] },
    { from: 6011, to: 6011, digits: 4, lengths: [16, 17, 18, 19] }, // Discover
    { from: 644, to: 649, digits: 3, lengths: [16, 17, 18, 19] },
    { from: 65, to: 65, digits: 2, lengths: [16, 17, 18, 19] },
    { from: 3528, to: 3589, digits: 4, lengths: [16, 17, 18, 19] }, // JCB
    { from: 300, to: 305, digits: 3, lengths: [14, 15, 16, 17, 18, 19] }, // Diners Club
    { from: 36, to: 36, digits: 2, lengths: [14, 15, 16, 17, 18, 19] },
    { from: 38, to: 39, digits: 2, lengths: [16, 17, 18, 19] },
    { from: 62, to: 62, digits: 2, lengths: [16, 17, 18, 19] }, // UnionPay
  ];

/** A card number: an issued length for its network's leading digits, and Luhn-valid. */
export function cardNumberValid(digits: string): boolean {
  const issued = CARD_RANGES.some((range) => {
    const lead = Number(digits.slice(0, range.digits));
    return lead >= range.from && lead <= range.to && range.lengths.includes(digits.length);
  });
  return issued && luhnValid(digits);
}

/** IBAN length per country (the IBAN registry, SWIFT): country code, then length. */
const IBAN_TABLE =
  "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 " +
  "DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 " +
  "HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 " +
  "MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 " +
  "RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 " +
  "VG24 XK20 YE30 ";
export const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  IBAN_TABLE.trim()
    .split(/\s+/)
    .map((entry) => [entry.slice(0, 2), Number(entry.slice(2))]),
);

/** ISO 13616 check: the country's length, then mod 97 of the rearranged number equals 1. */
export function ibanValid(compact: string): boolean {
  const length = IBAN_LENGTHS.get(compact.slice(0, 2));
  if (length === undefined || compact.length !== length) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const code = rearranged.charCodeAt(i);
    let value: number;
    if (code >= 48 && code <= 57) value = code - 48;
    else if (code >= 65 && code <= 90) value = code - 55;
    else return false;
    remainder = value > 9 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

/**
 * A US social security number the SSA could have issued: area not 000, 666 or 900–999, group
 * not 00, serial not 0000.
 */
export function ssnValid(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== "00" && serial !== "0000";
}
