-- Returns, amounts as floats. A return keeps its sale's ID even if that sale was dropped for missing amounts
-- (the generator plants none such; the data-quality report counts them).
SELECT
    r.ID_Retour,
    r.ID_Vente,
    r.ID_Date_Retour,
    r.Date_Retour,
    r.ID_Motif,
    CAST(r.Montant_Rembourse AS DOUBLE) AS Montant_Rembourse,
    r.Delai_Retour_Jours
FROM {{ source('Fait_Retours') }} r
