-- Sales from the back office's dump (the system of record). A sale without its amounts is critical data
-- missing and is dropped; a sale of a duplicate client follows the surviving client; a sale whose client is
-- unknown (an orphan) is kept, so totals stay whole. Amounts become floats for the measures, and the margin
-- rate on net revenue is derived.
SELECT
    v.ID_Vente,
    COALESCE(s.ID_Client_Survivant, v.ID_Client) AS ID_Client,
    v.ID_Produit,
    v.ID_Date,
    v.Date_Vente,
    v.Heure_Vente,
    v.DateTime_Vente,
    v.ID_Canal,
    v.ID_Promotion,
    v.ID_Livraison,
    v.Quantite,
    CAST(v.Montant_HT AS DOUBLE) AS Montant_HT,
    CAST(v.Montant_TTC AS DOUBLE) AS Montant_TTC,
    CAST(v.Cout_Produit AS DOUBLE) AS Cout_Produit,
    CAST(v.Marge AS DOUBLE) AS Marge,
    CAST(v.Remise_Appliquee AS DOUBLE) AS Remise_Appliquee,
    CAST(v.Marge AS DOUBLE) / NULLIF(CAST(v.Montant_HT AS DOUBLE) - CAST(v.Remise_Appliquee AS DOUBLE), 0) AS Marge_Pct
FROM {{ source('base_ventes') }} v
LEFT JOIN {{ ref('stg_client_survivors') }} s ON s.ID_Client = v.ID_Client
WHERE v.Montant_HT IS NOT NULL AND v.Montant_TTC IS NOT NULL
