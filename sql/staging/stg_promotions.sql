-- Promotions. The "Sans promotion" row (the promotion of every undiscounted sale) has an empty code in the
-- export, read as NULL. It stays one row, and its Code_Promo reads 'Sans promotion' rather than NULL: a BI
-- slicer or a group-by on Code_Promo then shows a label a reader understands instead of "(Blank)", and
-- "(Blank)" stays reserved for what Power BI means by it, sales whose promotion is unknown (orphans).
-- Its type and dates stay NULL: it has no discount type and no validity period. Valeur_Remise (a percent)
-- is a float so that a 12.5 % campaign in a later export does not change the column's type.
SELECT
    p.ID_Promotion,
    COALESCE(NULLIF(trim(p.Code_Promo), ''), 'Sans promotion') AS Code_Promo,
    trim(p.Nom_Campagne) AS Nom_Campagne,
    NULLIF(trim(p.Type_Remise), '') AS Type_Remise,
    CAST(p.Valeur_Remise AS DOUBLE) AS Valeur_Remise,
    CAST(p.Date_Debut AS DATE) AS Date_Debut,
    CAST(p.Date_Fin AS DATE) AS Date_Fin
FROM {{ source('Dim_Promotion') }} p
