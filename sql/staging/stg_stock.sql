-- Weekly stock snapshots, one row per product and Sunday. Semi-additive: the measures take the last
-- snapshot in the context, never a sum over time. The stock value is a float like every amount. A snapshot
-- of a product the catalogue lacks is kept (its attributes read as blank), as orphan sales are.
SELECT
    s.ID_Stock,
    s.ID_Produit,
    s.ID_Date,
    CAST(s.Date_Snapshot AS DATE) AS Date_Snapshot,
    s.Quantite_Disponible,
    s.Quantite_Reservee,
    CAST(s.Valeur_Stock AS DOUBLE) AS Valeur_Stock
FROM {{ source('Fait_Stock') }} s
