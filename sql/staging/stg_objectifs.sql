-- Monthly objectives, one row per (Annee, Mois). The workbook has one sheet per year, so the year comes
-- from the sheet's name (the source's Annee column); amounts become floats like every amount, so that
-- Taux_Atteinte_Objectif divides floats. A sheet whose name is not a year (a "Notes" sheet) yields a NULL
-- Annee rather than failing the whole model; the data-quality report's not_null test reveals it.
SELECT
    TRY_CAST(o.Annee AS BIGINT) AS Annee,
    CAST(o.Mois AS BIGINT) AS Mois,
    CAST(o.Objectif_CA AS DOUBLE) AS Objectif_CA,
    CAST(o.Budget_Marketing AS DOUBLE) AS Budget_Marketing
FROM {{ source('objectifs_mensuels') }} o
