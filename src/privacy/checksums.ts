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

/** IBAN length per country (the IBAN registry, SWIFT), for the countries that issue IBANs. */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

/** ISO 13616 check: the country's length, then mod 97 of the rearranged number equals 1. */
export function ibanValid(compact: string): boolean {
  const length = IBAN_LENGTHS[compact.slice(0, 2)];
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
