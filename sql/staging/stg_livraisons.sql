-- Delivery options (carrier and service). Store sales have no delivery: their ID_Livraison stays NULL in
-- stg_ventes, and no placeholder row is added here, so a report by Transporteur shows them as the blank
-- member, as the study's Power BI report did.
SELECT
    l.ID_Livraison,
    trim(l.Transporteur) AS Transporteur,
    trim(l.Type_Livraison) AS Type_Livraison,
    l.Delai_Prevu_Jours
FROM {{ source('Dim_Livraison') }} l
